"""Just enough shell parsing for lint: split a script into simple commands and their separators.

shlex with punctuation_chars tokenises quotes, `&&`, `||`, `;`, `|` and `&` the way sh does
for the scripts found in Dockerfiles and container commands; a full parser (bashlex) fails
on arithmetic and heredocs, which would turn a lint rule into a crash.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

SEPARATORS = {"&&", "||", ";", "|", "&", ";;", "\n", "|&"}
SUPERVISORS = {"supervisord", "s6-svscan", "runsvdir", "circusd", "init", "systemd", "monit", "pm2", "pm2-runtime"}


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    after: str  # the separator that ends it ("" at the end of the script)

    @property
    def program(self) -> str:
        """The command's program, past env assignments and sudo/exec/nohup-like wrappers."""
        words = list(self.words)
        while words and (("=" in words[0] and not words[0].startswith("-")) or words[0] in _WRAPPERS):
            words.pop(0)
        return words[0].rsplit("/", 1)[-1] if words else ""

    def args(self) -> list[str]:
        words = list(self.words)
        while words and words[0].rsplit("/", 1)[-1] != self.program:
            words.pop(0)
        return words[1:]


_WRAPPERS = {"sudo", "exec", "nohup", "env", "time", "command", "gosu", "su-exec", "tini", "dumb-init", "--"}


def split(script: str) -> list[Command]:
    lexer = shlex.shlex(script.replace("\\\n", " "), posix=True, punctuation_chars=";&|")
    lexer.whitespace = " \t\r"  # newlines separate commands
    lexer.whitespace_split = True
    lexer.commenters = "#"
    out: list[Command] = []
    words: list[str] = []
    try:
        for tok in lexer:
            if tok in SEPARATORS or tok == "\n":
                if words:
                    out.append(Command(tuple(words), tok))
                words = []
            else:
                words.append(tok)
    except ValueError:  # unbalanced quotes: keep what was read
        pass
    if words:
        out.append(Command(tuple(words), ""))
    return out


def shell_script(argv: list[str]) -> str | None:
    """The script of `sh -c SCRIPT` / `bash -lc SCRIPT`, or None when argv is not a shell wrapper."""
    if len(argv) >= 3 and argv[0].rsplit("/", 1)[-1] in ("sh", "bash", "ash", "dash", "zsh"):
        for i, a in enumerate(argv[1:-1], start=1):
            if a.startswith("-") and "c" in a:
                return argv[i + 1]
    return None


def process_problem(argv: list[str]) -> str | None:
    """Why this entrypoint runs more than one process, or None: a supervisor, or `a & b`."""
    script = shell_script(argv)
    commands = split(script) if script is not None else [Command(tuple(argv), "")]
    for c in commands:
        if c.program in SUPERVISORS:
            return f"starts the process supervisor {c.program}"
    background = [c for c in commands if c.after == "&"]
    if background:
        rest = [c for c in commands if c.after != "&" and c.program not in ("wait", "sleep", "echo", "true")]
        if len(background) >= 2 or rest:
            names = ", ".join(dict.fromkeys(c.program for c in [*background, *rest]))
            return f"starts several processes in the background ({names})"
    return None
