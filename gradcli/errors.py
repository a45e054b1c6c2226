"""Exceptions that the library raises and the CLI turns into exit statuses."""


class InputError(ValueError):
    """The user's input is wrong: one clear line, exit status 2, no traceback.

    The message names the bad piece (the token, the file, the option) so that the
    user can fix it without reading gradcli's code.
    """
