#!/usr/bin/env python
"""Captured functions take their arguments from the config, like the main function.

Arguments you pass explicitly win; the others are filled in from the config by name. ``_log`` is a
logger named after the function, as in Sacred::

    $ python examples/captured_functions.py -l WARNING
    WARNING - captured_functions - No observers have been added to this run
    This is printed by function foo.
    This is printed by function bar.
    WARNING - bar - bar logs through _log
    Overriding the default message for foo.

``some_function`` needs ``a`` and ``b``, but the config has only ``message``; the run stops with one
line that names the function and the missing parameters::

    $ python examples/captured_functions.py missing -l WARNING
    ERROR - captured_functions - Failed after 0:00:00!
    Error: some_function is missing value(s): ['a', 'b']; add them to the config or pass them when calling some_function()

Put them into the config, and it works (new entries are allowed because a captured function uses
them; an entry no function uses would be refused)::

    $ python examples/captured_functions.py missing with a=1 b=2 -l WARNING
    WARNING - captured_functions - Added new config entry: "a"
    WARNING - captured_functions - Added new config entry: "b"
    a + b = 3
"""

# ruff: noqa: F841 - the local variables of config scopes are the config
from pytest_sacredx import Experiment

ex = Experiment("captured_functions")


@ex.config
def cfg():
    message = "This is printed by function {}."


@ex.capture
def foo(message):
    print(message.format("foo"))


@ex.capture
def bar(message, _log):
    print(message.format("bar"))
    _log.warning("bar logs through _log")


@ex.capture
def some_function(a, b):
    print("a + b =", a + b)


@ex.command(unobserved=True)
def missing():
    """Call a captured function whose arguments the config may lack."""
    some_function()


@ex.automain
def main():
    foo()  # message comes from the config
    bar()
    foo("Overriding the default message for {}.")  # an explicit argument wins
