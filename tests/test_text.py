from matcher.text import chunks, passages, split_sentences


def test_sentences_respect_abbreviations_and_lines():
    text = "CAR-T cells, e.g. CD19 ones, work. They persist.\nA new line starts here"
    assert split_sentences(text) == [
        "CAR-T cells, e.g. CD19 ones, work.",
        "They persist.",
        "A new line starts here",
    ]


def test_long_sentences_are_chunked_without_losing_words():
    words = [f"w{i}" for i in range(100)]
    chunks = passages(" ".join(words) + ".", max_words=40)
    assert all(len(c.split()) <= 40 for c in chunks)
    seen = {w.rstrip(".") for c in chunks for w in c.split()}
    assert seen == set(words)
    assert len(chunks) == 3


def test_chunks_pack_whole_sentences_into_the_window():
    text = "One two three four. Five six seven. Eight nine ten eleven twelve."
    assert chunks(text, max_words=8) == [
        "One two three four. Five six seven.",
        "Eight nine ten eleven twelve.",
    ]
    assert chunks(text, max_words=100) == [text]
