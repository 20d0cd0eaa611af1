"""Which candidates a ranking may return: masks over a loaded collection."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import numpy.typing as npt

from ..domain import EntityKind, OrgKind
from .collection import Loaded

Mask = npt.NDArray[np.bool_]


def kind_mask(target: Loaded, kinds: Collection[OrgKind] | None) -> Mask | None:
    """Organisations of these kinds only; None when any kind will do."""
    if not kinds:
        return None
    wanted = [OrgKind(k).value for k in kinds]
    return np.isin(target.categories, wanted)


def both(a: Mask | None, b: Mask | None) -> Mask | None:
    """Candidates both masks allow (None allows all)."""
    if a is None or b is None:
        return a if b is None else b
    return a & b


class AllowedMasks:
    """Masks of the candidates a caller may see, cached by the set of visible ids."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._masks: dict[tuple[EntityKind, frozenset[str]], Mask] = {}

    def mask(self, target: Loaded, allowed: Collection[str] | None) -> Mask | None:
        if allowed is None:
            return None
        wanted = allowed if isinstance(allowed, frozenset) else frozenset(allowed)
        key = (target.kind, wanted)
        mask = self._masks.get(key)
        if mask is None:
            # Views pass the same frozenset for as long as the store is unchanged: its hash is
            # computed once, so this look-up costs nothing on the hot path.
            mask = np.fromiter((e.id in wanted for e in target.entities), bool, len(target))
            if len(self._masks) > self.size:
                self._masks.clear()
            self._masks[key] = mask
        return mask
