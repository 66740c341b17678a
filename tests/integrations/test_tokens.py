from __future__ import annotations

import math

from integrations import tokens


def test_tokens_carry_256_random_bits_behind_a_readable_prefix():
    token = tokens.generate_token()
    assert token.startswith("npscim_")
    assert len(token) == tokens.TOKEN_LENGTH
    assert tokens.RANDOM_LENGTH * math.log2(len(tokens.ALPHABET)) >= 256
    assert len({tokens.generate_token() for _ in range(200)}) == 200


def test_a_generated_token_passes_its_own_checksum():
    for _ in range(50):
        assert tokens.looks_like_token(tokens.generate_token())


def test_a_token_with_one_character_changed_fails_the_checksum():
    token = tokens.generate_token()
    position = len(tokens.PREFIX) + 5
    replacement = "A" if token[position] != "A" else "B"
    tampered = token[:position] + replacement + token[position + 1 :]
    assert not tokens.looks_like_token(tampered)


def test_other_shapes_are_rejected_before_any_lookup():
    token = tokens.generate_token()
    for value in [
        "",
        "Bearer",
        token[:-1],
        token + "x",
        "ghp_" + token[7:],
        token.replace("npscim_", "NPSCIM_"),
        token[:-6] + "!!!!!!",
    ]:
        assert not tokens.looks_like_token(value), value


def test_digest_is_sha256_hex_and_hint_is_prefix_plus_four():
    token = tokens.generate_token()
    digest = tokens.token_digest(token)
    assert len(digest) == 64 and token not in digest
    assert tokens.token_hint(token) == token[:11]
