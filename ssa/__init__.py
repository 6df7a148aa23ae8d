"""Stochastic simulation of chemical master equations (Gillespie's direct method, kexue.fm/archives/5607)."""
