#!/usr/bin/env python
"""A configurable Hello World: the local variables of a config scope are the config.

``message`` is computed from ``recipient``; updating ``recipient`` on the command line changes the
message too, because updates are fixed before the scope runs::

    $ python examples/hello_config.py
    WARNING - hello_config - No observers have been added to this run
    INFO - hello_config - Running command 'my_main'
    INFO - hello_config - Started
    Hello world!
    INFO - hello_config - Completed after 0:00:00

    $ python examples/hello_config.py with recipient=you -l WARNING
    WARNING - hello_config - No observers have been added to this run
    Hello you!

``print_config`` shows the config; the comments beside the entries are their documentation::

    $ python examples/hello_config.py print_config with recipient=you
    INFO - hello_config - Running command 'print_config'
    INFO - hello_config - Started
    Configuration (~ modified, + added, ! typechanged, # doc):
      message = 'Hello you!'             # the greeting that is printed
    ~ recipient = 'you'                  # whom to greet
      seed = ...                         # the random seed for this experiment
    INFO - hello_config - Completed after 0:00:00

A dotted update needs a dict to write into; ``message`` is a string::

    $ python examples/hello_config.py with message.text=Hi
    Error: Cannot set 'message.text': 'message' is not a dict in the config but of type str. Set 'message' itself (with message=...), or choose another key.
"""

# ruff: noqa: F841 - the local variables of config scopes are the config
from pytest_sacredx import Experiment

ex = Experiment("hello_config")


@ex.config
def my_config():
    recipient = "world"  # whom to greet
    message = f"Hello {recipient}!"  # the greeting that is printed


@ex.automain
def my_main(message: str) -> None:
    print(message)
