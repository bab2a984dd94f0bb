"""The book in the repository: reading it, checking it, and writing it back.

Read side: `model` (Book, Chapter), `config` (the settings file), `tarball` (unpacking a
repository), `paths` (the guard on every written path). Write side: `render`, `outline`,
`clean`. Model input: `prompts`. Verification: `check` (the real `jupyter-book` CLI).
"""
