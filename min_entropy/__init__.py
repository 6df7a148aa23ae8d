"""Minimum-entropy word discovery, segmentation and sentence templates (kexue.fm/archives/5476, /5577)."""
