"""Tiny synthetic clip for the evaluation tests: a two-colour disc with an ink outline moving right."""
import cv2
import numpy as np


def moving_disc(n=9, h=64, w=96, step=3, radius=14):
    """n RGB frames (uint8): beige background, red disc with a blue inner band, black outlines."""
    frames = []
    for k in range(n):
        img = np.full((h, w, 3), (230, 210, 170), np.uint8)
        cx, cy = 22 + step * k, h // 2
        cv2.circle(img, (cx, cy), radius, (200, 40, 40), -1)
        cv2.rectangle(img, (cx - radius, cy - 3), (cx + radius, cy + 3), (40, 60, 200), -1)
        cv2.circle(img, (cx, cy), radius, (0, 0, 0), 2)
        cv2.line(img, (cx - radius, cy - 4), (cx + radius, cy - 4), (0, 0, 0), 1)
        cv2.line(img, (cx - radius, cy + 4), (cx + radius, cy + 4), (0, 0, 0), 1)
        frames.append(img)
    return frames
