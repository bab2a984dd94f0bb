"""The stand-in's shared core: state, git repositories, faults and webhook delivery together."""

from __future__ import annotations

from pathlib import Path

from .faults import Faults
from .git import GitRepo
from .state import Repo, State
from .webhooks import WebhookSender


class Hub:
    """What every route and every control call works on."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = State()
        self.faults = Faults()
        self.webhooks = WebhookSender(self.state)
        self._git: dict[int, GitRepo] = {}
        self.rate_usage: dict[str, tuple[int, int]] = {}  # identity -> (reset, used)
        # The niceness its threads answer at (0: as the test's process): GitHub's CPU is
        # not the app's, so a test that times the app may lower the stand-in's priority.
        self.niceness = 0

    def git(self, repo: Repo) -> GitRepo:
        """The bare repository behind `repo` (one object per repo, so one lock per repo)."""
        with self.state.lock:
            found = self._git.get(repo.id)
            if found is None:
                found = self._git[repo.id] = GitRepo(repo.path)
            return found

    def repo_path(self, owner: str, name: str) -> Path:
        """Where the bare repository `owner/name` lives on disk."""
        return self.root / "repos" / owner.lower() / f"{name.lower()}.git"
