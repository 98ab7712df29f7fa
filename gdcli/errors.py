"""The one exception type for mistakes a user can fix."""


class GdcliError(Exception):
    """A bad input: `message` names the problem, `hint` the way out.

    The CLI turns it into exit code 2 with no traceback.
    """

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"
