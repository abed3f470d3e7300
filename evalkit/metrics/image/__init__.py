"""The image family: image-generation metrics on features of a pluggable extractor.

Registered metrics (:data:`evalkit.registry.METRICS`): ``fid``, ``kid`` and
``inception_score``.

Modules:

- :mod:`~evalkit.metrics.image._base`: the shared base class, sample images, signatures and the
  conventions the three metrics share (sample order, bootstrap intervals).
- :mod:`~evalkit.metrics.image.reference`: reference sets: mean, unbiased covariance, stats files.
- :mod:`~evalkit.metrics.image.fid`: Fréchet Inception Distance (``fid``).
- :mod:`~evalkit.metrics.image.kid`: Kernel Inception Distance (``kid``).
- :mod:`~evalkit.metrics.image.inception_score`: Inception Score (``inception_score``).

Conventions of the family:

- Images are read by :mod:`evalkit.data.images` and turned into features by the extractors of
  :mod:`evalkit.assets.image_features`, all offline.
- The metrics are set-level: one image has no value of its own, so per-sample values are NaN
  and comparisons count no per-sample wins or losses. FID and KID are lower-is-better, IS
  higher-is-better.
- Besides ``evalkit run``, each has a functional twin in :mod:`evalkit.metrics` that scores a
  folder, file or array of images directly (``fid(generated, reference, **params)``).
"""
