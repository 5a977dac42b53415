# The built-in probe for the sample extension. It runs after `import numpy as
# np` and the import of the built module (bound to `module`). An
# AssertionError here is reported as `wrong-result`: a module that imports but
# answers wrongly is a failure, not a pass.
matrix = np.array([[1, 2, 3], [4, 5, 6]])
got = module.get_array_dim(matrix)
assert got == (2, 3), f"get_array_dim(2x3 array) returned {got!r}, expected (2, 3)"

vector = np.arange(7)
got = module.get_array_dim(vector)
assert got == (7,), f"get_array_dim(1-D array of 7) returned {got!r}, expected (7,)"
