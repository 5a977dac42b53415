/*
 * The built-in sample extension: the module from the seed write-up, made
 * correct on every platform NumPy supports.
 *
 * It uses the NumPy C API the way real extensions do: the array type object
 * and the PyArray_* accessors both go through the API table that
 * import_array() fills in at module init. That table is exactly where a
 * build/runtime mismatch shows up, so the module is a faithful canary.
 */
#define PY_SSIZE_T_CLEAN
/* The sample uses only the modern API; this also silences the
 * deprecated-API #warning, so compiler output shows only real problems. */
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <Python.h>
#include <numpy/arrayobject.h>

static PyObject *
get_array_dim(PyObject *self, PyObject *args)
{
    PyArrayObject *arr;
    if (!PyArg_ParseTuple(args, "O!", &PyArray_Type, &arr)) {
        return NULL;
    }
    /* npy_intp is pointer-sized; "n" (Py_ssize_t) matches it everywhere,
     * unlike the seed's "l", which is 32 bits on 64-bit Windows. */
    if (PyArray_NDIM(arr) == 2) {
        return Py_BuildValue("(nn)", (Py_ssize_t)PyArray_DIMS(arr)[0],
                             (Py_ssize_t)PyArray_DIMS(arr)[1]);
    }
    if (PyArray_NDIM(arr) == 1) {
        return Py_BuildValue("(n)", (Py_ssize_t)PyArray_DIMS(arr)[0]);
    }
    Py_RETURN_NONE;
}

static PyMethodDef my_extension_methods[] = {
    {"get_array_dim", get_array_dim, METH_VARARGS,
     "get_array_dim(arr) -> (rows, cols) for a 2-D array, (n,) for 1-D."},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef my_extension_module = {
    PyModuleDef_HEAD_INIT, "my_extension", NULL, -1, my_extension_methods
};

PyMODINIT_FUNC
PyInit_my_extension(void)
{
#ifndef ABIMATRIX_SKIP_IMPORT_ARRAY
    /* Fills the C-API table and checks the ABI/API versions against the
     * running NumPy; on a mismatch it raises ImportError and returns NULL. */
    import_array();
#endif
    return PyModule_Create(&my_extension_module);
}
