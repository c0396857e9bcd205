#!/usr/bin/env python
"""Named configs: sets of config values applied only when named after ``with``.

They apply in the order given: ``small`` overrides ``b`` of ``variant``, and the explicit update
``a=23`` wins over both. What a named config sets is fixed, so ``c`` is no longer computed::

    $ python examples/named_configs.py -l WARNING
    WARNING - named_configs - No observers have been added to this run
    a=1 b=2 c=3

    $ python examples/named_configs.py with variant -l WARNING
    WARNING - named_configs - No observers have been added to this run
    a=10 b=20 c=30

    $ python examples/named_configs.py with variant small a=23 -l WARNING
    WARNING - named_configs - No observers have been added to this run
    a=23 b=0 c=30

``print_named_configs`` lists them with their docs; an unknown name gets a hint::

    $ python examples/named_configs.py print_named_configs -l WARNING
    Named Configurations (# doc):
      variant   # Bigger numbers.
      small   # Make b zero.

    $ python examples/named_configs.py with variatn
    Error: Named config not found: "variatn". Available config values are: ('variant', 'small'). Did you mean 'variant'? A config file path also works.
"""

# ruff: noqa: F841 - the local variables of config scopes are the config
from pytest_sacredx import Experiment

ex = Experiment("named_configs")


@ex.config
def cfg():
    a = 1
    b = 2
    c = a + b  # computed from the others, so it follows them


@ex.named_config
def variant():
    """Bigger numbers."""
    a = 10
    b = 20
    c = 30


@ex.named_config
def small():
    """Make b zero."""
    b = 0


@ex.automain
def main(a, b, c):
    print(f"a={a} b={b} c={c}")
