"""Settings: MATCHER_DEVICE names a device torch knows, or the error names the variable."""

from __future__ import annotations

import pytest

from matcher import ConfigError, Settings


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:1", "mps", " CUDA:0 "])
def test_a_device_torch_can_name_is_accepted(device):
    settings = Settings.from_env({"MATCHER_DEVICE": device})
    assert settings.device == device.strip().lower()


@pytest.mark.parametrize("device", ["gpu", "cuda:", "cuda:x", "tpu", "", "cpu,cuda"])
def test_another_device_names_the_variable_and_the_value(device):
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"MATCHER_DEVICE": device})
    assert str(raised.value) == f"MATCHER_DEVICE={device!r} must be cpu, cuda, cuda:N or mps"
