#!/usr/bin/env python
"""Commands: more entry points besides the main function, all with the same config.

``@ex.command`` makes a captured function runnable by name::

    $ python examples/my_commands.py greet
    WARNING - my_commands - No observers have been added to this run
    INFO - my_commands - Running command 'greet'
    INFO - my_commands - Started
    Hello John! Nice to greet you!
    INFO - my_commands - Completed after 0:00:00

An ``unobserved`` command is never recorded (so there is no warning about observers), and ``with`` and
the flags work for every command::

    $ python examples/my_commands.py shout with name=Jane
    INFO - my_commands - Running command 'shout'
    INFO - my_commands - Started
    HEY JANE, WHAT IS UP?
    INFO - my_commands - Completed after 0:00:00

The main function is a command too, and so are the built-in ones such as ``print_config``::

    $ python examples/my_commands.py main -l WARNING
    WARNING - my_commands - No observers have been added to this run
    This is just the main command. Try greet or shout.

    $ python examples/my_commands.py print_config with name=Jane -l WARNING
    Configuration (~ modified, + added, ! typechanged, # doc):
    ~ name = 'Jane'                      # who is greeted
      seed = ...                         # the random seed for this experiment

``help COMMAND`` shows a command's signature and documentation; a misspelt command gets a hint::

    $ python examples/my_commands.py help greet
    greet(name)
        Print a nice greeting for the configured name.
    <BLANKLINE>

    $ python examples/my_commands.py gret
    Error: Command "gret" not found. Did you mean 'greet'? Available commands are: ...
"""

# ruff: noqa: F841 - the local variables of config scopes are the config
from pytest_sacredx import Experiment

ex = Experiment("my_commands")


@ex.config
def cfg():
    name = "John"  # who is greeted


@ex.command
def greet(name):
    """Print a nice greeting for the configured name."""
    print(f"Hello {name}! Nice to greet you!")


@ex.command(unobserved=True)
def shout(name):
    """Shout the question "what is up?" (never recorded)."""
    print(f"HEY {name.upper()}, WHAT IS UP?")


@ex.automain
def main():
    print("This is just the main command. Try greet or shout.")
