"""The report runtime: kernels, papermill's execution, the HTML page, the PDF,
batches here and on Dask. Under the faces (which only call it), over logic and
data (which it never reaches into: the report notebook does)."""
