"""Training the embedded model (needs the ``train`` extra: torch, transformers, onnx).

Run ``python -m ponder.train --out DIR`` to train, export with onnxruntime-genai's model
builder and write the model folder; see :mod:`ponder.train.run`.
"""
