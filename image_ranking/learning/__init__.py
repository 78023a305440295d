"""Curators' labels and rated photos become heads: examples, fitting, adaptation of the prior."""
