#!/usr/bin/env python
"""Ingredients: reusable parts with their own config, captured functions and commands.

The ``dataset`` ingredient's config lives under ``dataset`` in the experiment's config, its captured
functions read from there, and its commands are called ``dataset.<command>``::

    $ python examples/ingredients.py -l WARNING
    WARNING - ingredients - No observers have been added to this run
    loading 3 samples from data.csv
    total: 3

    $ python examples/ingredients.py with dataset.size=5 -l WARNING
    WARNING - ingredients - No observers have been added to this run
    loading 5 samples from data.csv
    total: 10

    $ python examples/ingredients.py dataset.print_dataset with dataset.size=2
    INFO - ingredients - Running command 'print_dataset'
    INFO - ingredients - Started
    data.csv: [0, 1]
    INFO - ingredients - Completed after 0:00:00

    $ python examples/ingredients.py print_config with dataset.size=2 -l WARNING
    Configuration (~ modified, + added, ! typechanged, # doc):
      scale = 1                          # multiplies every sample
      seed = ...                         # the random seed for this experiment
    ~ dataset:
        filename = 'data.csv'            # where the samples come from
    ~   size = 2                         # how many samples to load
"""

# ruff: noqa: F841 - the local variables of config scopes are the config
from pytest_sacredx import Experiment, Ingredient

# ---------------------------------------------------------------- the ingredient (could be its own module)
data_ingredient = Ingredient("dataset")


@data_ingredient.config
def data_config():
    filename = "data.csv"  # where the samples come from
    size = 3  # how many samples to load


@data_ingredient.capture
def load_data(filename, size):
    print(f"loading {size} samples from {filename}")
    return list(range(size))


@data_ingredient.command(unobserved=True)
def print_dataset(filename, size):
    """Print the samples the dataset would load."""
    print(f"{filename}: {list(range(size))}")


# ---------------------------------------------------------------- the experiment
ex = Experiment("ingredients", ingredients=[data_ingredient])


@ex.config
def cfg():
    scale = 1  # multiplies every sample


@ex.automain
def main(scale):
    data = load_data()  # arguments come from the dataset's config
    print("total:", scale * sum(data))
