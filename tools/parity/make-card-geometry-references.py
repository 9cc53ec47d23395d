#!/usr/bin/python3
"""Reference crops for the model card's resize modes, made by PIL and torchvision themselves.

Run with Debian's interpreter (python3-pil 9.4, python3-torchvision 0.14):

    /usr/bin/python3 tools/parity/make-card-geometry-references.py

Sources are cut from the demo photos in samples/ (CC0 / public domain, see samples/SOURCES.md) and
re-encoded into test/fixtures/card-geometry/, so that the tests need nothing else. Each reference is
the 8-bit RGB image the model would be fed before ToTensor, stored as a lossless PNG (normalisation
is exact arithmetic on these levels, tested separately).
"""
import hashlib
import json
import os

import PIL
import torchvision
from PIL import Image, ImageOps
from torchvision import transforms as T

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
SAMPLES = os.path.join(ROOT, 'samples')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'card-geometry')
EXIF_ORIENTATION = 0x0112


def make_sources():
    """(file, PIL open kwargs) of the sources, written from the samples."""
    rocket = Image.open(os.path.join(SAMPLES, 'rocket_1080x1080_q85.jpg')).convert('RGB')
    # 1080x920: a squash to 224 reduces 4.82x / 4.11x (unequal axes).
    rocket.crop((0, 80, 1080, 1000)).save(os.path.join(OUT, 'rocket_1080x920_q90.jpg'), quality=90)
    coffee = Image.open(os.path.join(SAMPLES, 'coffee_600x400_q85.jpg')).convert('RGB')
    # Stored sideways (400x600) with EXIF orientation 6, as phones write; upright it is 600x400.
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    coffee.transpose(Image.Transpose.ROTATE_90).save(
        os.path.join(OUT, 'coffee_exif6_400x600_q90.jpg'), quality=90, exif=exif.tobytes())
    chelsea = Image.open(os.path.join(SAMPLES, 'chelsea_451x300_q85.jpg')).convert('RGB')
    chelsea.save(os.path.join(OUT, 'chelsea_451x300.png'))
    return ['rocket_1080x920_q90.jpg', 'coffee_exif6_400x600_q90.jpg', 'chelsea_451x300.png']


def load(name, upright):
    """torchvision's loader (`Image.open(f).convert('RGB')`), upright with `ImageOps.exif_transpose`."""
    with open(os.path.join(OUT, name), 'rb') as f:
        img = Image.open(f)
        img.load()
    if upright:
        img = ImageOps.exif_transpose(img)
    return img.convert('RGB')


def squash(size):
    return T.Resize((size, size), interpolation=T.InterpolationMode.BILINEAR)


def crop(short_side, size):
    return T.Compose([T.Resize(short_side, interpolation=T.InterpolationMode.BILINEAR), T.CenterCrop(size)])


# (reference kind, card preprocessing it stands for, transform, also upright for EXIF-tagged sources)
KINDS = [
    ('squash224', {'resize': 'squash', 'cropSize': 224}, squash(224), True),
    ('squash160', {'resize': 'squash', 'cropSize': 160}, squash(160), False),
    ('crop288', {'resize': 'crop', 'resizeShortSide': 288, 'cropSize': 224}, crop(288, 224), True),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    entries = []
    for source in make_sources():
        for upright in ([False, True] if 'exif' in source else [False]):
            img = load(source, upright)
            for kind, preprocessing, transform, with_upright in KINDS:
                if upright and not with_upright:
                    continue
                out = transform(img)
                if kind.startswith('squash'):
                    # torchvision's Resize((S, S)) on a PIL image is PIL's resize: check it is.
                    size = preprocessing['cropSize']
                    assert out.tobytes() == img.resize((size, size), Image.Resampling.BILINEAR).tobytes()
                name = f"{os.path.splitext(source)[0]}.{kind}{'.upright' if upright else ''}.png"
                out.save(os.path.join(OUT, name))
                entries.append({
                    'source': source,
                    'reference': name,
                    'autoOrient': upright,
                    'preprocessing': {**preprocessing, 'autoOrient': upright},
                    'size': list(out.size),
                    'sha256': hashlib.sha256(out.tobytes()).hexdigest(),
                })
    manifest = {
        'made_by': 'tools/parity/make-card-geometry-references.py',
        'pil': PIL.__version__,
        'torchvision': torchvision.__version__,
        'note': 'sha256 is of the raw RGB bytes of each reference',
        'entries': entries,
    }
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')
    print(f'{len(entries)} references in {OUT}')


if __name__ == '__main__':
    main()
