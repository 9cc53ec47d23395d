#!/usr/bin/python3
"""Reference inputs for the model card's resize modes, made by PIL and torchvision themselves.

    /usr/bin/python3 tools/parity/make-card-geometry-references.py

Run it with Debian's interpreter (python3-pil 9.4, python3-torchvision 0.14). The photos are the
parity fixtures of test/fixtures/parity (made by make-reference.py, licences in its SOURCES.md);
the references go to test/fixtures/card-geometry with a manifest. A reference is the 8-bit RGB image
the model is fed before ToTensor, as a lossless PNG (normalisation is exact arithmetic on these
levels, tested separately): torchvision's loader (`Image.open(f).convert('RGB')`, after
`ImageOps.exif_transpose` for the upright ones), then
- squash S: `Resize((S, S))`, which on a PIL image is PIL's `resize((S, S), BILINEAR)`;
- crop 288: `Resize(288) → CenterCrop(224)`.
"""
import hashlib
import json
import os
import sys

import PIL
import torchvision
from PIL import Image, ImageOps
from torchvision import transforms as T

if not (PIL.__version__.startswith('9.4.') and torchvision.__version__.startswith('0.14.')):
    sys.exit(f'PIL {PIL.__version__}, torchvision {torchvision.__version__}: run with Debian /usr/bin/python3')

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
PHOTOS = os.path.join(ROOT, 'test', 'fixtures', 'parity')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'card-geometry')

SQUASH_224 = ('squash224', {'resize': 'squash', 'cropSize': 224}, T.Resize((224, 224)))
SQUASH_160 = ('squash160', {'resize': 'squash', 'cropSize': 160}, T.Resize((160, 160)))
CROP_288 = ('crop288', {'resize': 'crop', 'resizeShortSide': 288, 'cropSize': 224}, T.Compose([T.Resize(288), T.CenterCrop(224)]))

# photo, references to make, whether in the stored frame and/or upright
PLAN = [
    ('coffee_1440x1080_q85.jpg', [SQUASH_224, SQUASH_160, CROP_288], [False]),
    ('chelsea_451x300_q85.jpg', [SQUASH_224, CROP_288], [False]),
    ('rocket_240x160_q90.jpg', [SQUASH_224], [False]),
    ('rocket_alpha_1024x1024.png', [SQUASH_224], [False]),
    ('retina_exif8_1440x1080_q85.jpg', [SQUASH_224, CROP_288], [False, True]),
    ('mosaic_exif6_4032x3024_q85.jpg', [SQUASH_224], [True]),
]


def load(name, upright):
    with open(os.path.join(PHOTOS, name), 'rb') as f:
        img = Image.open(f)
        img.load()
    return (ImageOps.exif_transpose(img) if upright else img).convert('RGB')


def main():
    os.makedirs(OUT, exist_ok=True)
    entries = []
    for photo, kinds, frames in PLAN:
        for upright in frames:
            img = load(photo, upright)
            for kind, preprocessing, transform in kinds:
                out = transform(img)
                if preprocessing['resize'] == 'squash':
                    size = preprocessing['cropSize']
                    assert out.tobytes() == img.resize((size, size), Image.Resampling.BILINEAR).tobytes()
                name = f"{os.path.splitext(photo)[0]}.{kind}.{'upright' if upright else 'stored'}.png"
                out.save(os.path.join(OUT, name))
                entries.append({
                    'photo': f'../parity/{photo}',
                    'reference': name,
                    'preprocessing': {**preprocessing, 'autoOrient': upright},
                    'size': list(out.size),
                    'rgb_sha256': hashlib.sha256(out.tobytes()).hexdigest(),
                })
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump({'made_by': 'tools/parity/make-card-geometry-references.py', 'pil': PIL.__version__,
                   'torchvision': torchvision.__version__, 'entries': entries}, f, indent=1)
        f.write('\n')
    print(f'{len(entries)} references in {OUT}')


if __name__ == '__main__':
    main()
