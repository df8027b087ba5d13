"""A small, seeded scikit-learn experiment used to show envforge end to end."""
