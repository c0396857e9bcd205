#!/usr/bin/env python
"""The smallest experiment: one main function and nothing to configure.

``@ex.automain`` marks the main function and runs the command line when the file is executed as a
script (importing the file, as pytest does, runs nothing)::

    $ python examples/hello_world.py
    WARNING - hello_world - No observers have been added to this run
    INFO - hello_world - Running command 'my_main'
    INFO - hello_world - Started
    Hello world!
    INFO - hello_world - Completed after 0:00:00

Only warnings and errors, please::

    $ python examples/hello_world.py -l WARNING
    WARNING - hello_world - No observers have been added to this run
    Hello world!

Every experiment has a config, even without config scopes: the random seed::

    $ python examples/hello_world.py print_config with seed=7 -l ERROR
    Configuration (~ modified, + added, ! typechanged, # doc):
    ~ seed = 7
"""

from pytest_sacredx import Experiment

ex = Experiment("hello_world")


@ex.automain
def my_main() -> None:
    print("Hello world!")
