"""Reading verifier logs in tests."""


def in_order(log: str, pieces: list[str]) -> bool:
    """Every piece appears in the log, each after the end of the one before."""
    at = 0
    for piece in pieces:
        found = log.find(piece, at)
        if found < 0:
            return False
        at = found + len(piece)
    return True
