"""Reading runs for people: questions over the records any store returns (``RunRecord``)."""
