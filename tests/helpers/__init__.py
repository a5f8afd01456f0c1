"""Helpers shared by the test modules, imported as `helpers.NAME` (tests/ is on
sys.path): the CLI as a process (`cli`), the screen under Pilot (`screen`), processes
that hold the write lock or feed `log --stdin` (`processes`, fixtures registered in
conftest), hand-built models and a manual clock for the pure rules (`builders`),
a private tmux server for the end-to-end tests (`tmux`), real receivers on
loopback for the hooks (HTTP: `receivers`; SMTP: `smtp`), and what an attacker
with write access to the file does to it (`attacker`). No test module imports
another."""
