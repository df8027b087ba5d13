"""CUDA knowledge: version primitives, the versioned catalog (package data), and what a
project's lock needs from a GPU. Pure; reads only its own package data."""
