"""Process-level settings for torch work."""

from __future__ import annotations


class torch_threads:  # noqa: N801 (used like a function: ``with torch_threads(n):``)
    """Temporarily set torch's intra-op thread count (0/None: leave torch's default)."""

    def __init__(self, threads: int | None) -> None:
        self.threads = threads
        self.saved: int | None = None

    def __enter__(self) -> None:
        import torch

        if self.threads:
            self.saved = torch.get_num_threads()
            torch.set_num_threads(self.threads)

    def __exit__(self, *exc: object) -> None:
        import torch

        if self.saved is not None:
            torch.set_num_threads(self.saved)
