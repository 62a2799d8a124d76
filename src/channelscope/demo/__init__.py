"""A seeded multi-channel demo data set with known ground truth (DESIGN.md, 'demo').

``generate_demo(folder, size, seed)`` writes a project folder: ``channelscope.yaml``, messy
platform exports and canonical CSVs under ``exports/``, and ``ground_truth.json``.
"""

from channelscope.demo.generator import SIZES, DemoResult, generate_demo

__all__ = ["SIZES", "DemoResult", "generate_demo"]
