"""``acic import``: trained binarized networks onto the three BNN cores (docs/import.md).

:mod:`.network` holds the one folding rule and what is written (parameter files in
the cores' ABI, the ``.aci`` program); :mod:`.bnnfpga`, :mod:`.binarynet` and
:mod:`.qonnx` read the three formats; :mod:`.digits` is the handwritten-digits
network trained by ``make model``.
"""
