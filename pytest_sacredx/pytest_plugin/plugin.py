"""Entry module of the pytest plugin (``pytest11: sacredx``): registers the feature modules."""
