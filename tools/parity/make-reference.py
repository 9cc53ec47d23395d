#!/usr/bin/python3
"""
Builds the committed parity fixtures of test/fixtures/parity: small photos derived from freely
licensed images, and torchvision's reference crops for them.

    /usr/bin/python3 tools/parity/make-reference.py            # the photos, then their references
    /usr/bin/python3 tools/parity/make-reference.py references # only the references, from the committed photos

Run it with Debian's interpreter: the references must come from Debian's python3-pil 9.4 and
python3-torchvision 0.14 (the versions of ../shared/parity/MANIFEST.json), and the script refuses
any other version.

Sources (read-only, never committed as such):
- the sample photos of scikit-image (Debian python3-skimage; without installing it:
  `apt-get download python3-skimage && dpkg-deb -x python3-skimage_*.deb DIR`, then
  `--skimage-data DIR/usr/lib/python3/dist-packages/skimage/data`);
- the "compatible with Adobe RGB (1998)" ICC profile of Debian icc-profiles-free (zlib licence),
  fetched the same way if absent (`--icc PATH`).

A reference is what torchvision's val_transform sees before ToTensor: PIL's
`Image.open(path)` (`ImageOps.exif_transpose` first where the entry says so) `.convert('RGB')`,
then `Resize(256)` and `CenterCrop(224)`, stored as a lossless 224×224 RGB PNG. ToTensor and
Normalize are exact float32 arithmetic on those bytes, so the PNG is the whole reference; the
manifest also records the sha256 of torchvision's own float32 tensor, computed from the opened image
with the full transform, so that a reader can check its normalisation bit for bit.
"""
import argparse
import hashlib
import json
import os
import sys

try:
    import numpy as np
    import PIL
    import torch
    import torchvision
    from PIL import Image, ImageCms, ImageOps
    from torchvision import transforms
except ImportError as err:
    sys.exit(f'{err}: run with Debian /usr/bin/python3 (python3-pil, python3-torchvision, python3-numpy)')

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, '..', '..'))
OUT_DIR = os.path.join(REPO, 'test', 'fixtures', 'parity')
REF_DIR = os.path.join(OUT_DIR, 'reference')
SHARED_MANIFEST = os.path.join(REPO, '..', 'shared', 'parity', 'MANIFEST.json')

EXPECTED_VERSIONS = {'PIL': '9.4.0', 'torchvision': '0.14.', 'torch': '1.13.'}
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
RESIZE = 256
CROP = 224
ORIENTATION_TAG = 0x0112

SKIMAGE_DEFAULT = '/usr/lib/python3/dist-packages/skimage/data'
ICC_DEFAULT = '/usr/share/color/icc/compatibleWithAdobeRGB1998.icc'

SOURCE_CREDITS = {
    'astronaut.png': 'public domain (NASA), scikit-image data.astronaut',
    'chelsea.png': 'CC0, Stefan van der Walt, scikit-image data.chelsea',
    'coffee.png': 'CC0, Rachel Michetti, scikit-image data.coffee',
    'rocket.jpg': 'public domain (SpaceX), scikit-image data.rocket',
    'camera.png': 'CC0, Lav Varshney, scikit-image data.camera',
    'hubble_deep_field.jpg': 'public domain (NASA), scikit-image data.hubble_deep_field',
    'retina.jpg': 'CC0, Mikael Häggström, scikit-image data.retina',
    'compatibleWithAdobeRGB1998.icc': 'zlib licence, Kai-Uwe Behrmann, Marti Maria et al. (Debian icc-profiles-free)',
}


def check_versions():
    found = {'PIL': PIL.__version__, 'torchvision': torchvision.__version__, 'torch': torch.__version__}
    for name, prefix in EXPECTED_VERSIONS.items():
        if not found[name].startswith(prefix):
            sys.exit(f'{name} {found[name]} found, {prefix}* expected: run with Debian /usr/bin/python3')
    if os.path.exists(SHARED_MANIFEST):
        with open(SHARED_MANIFEST) as f:
            shared = json.load(f)['versions']
        for name in ('PIL', 'torchvision', 'torch'):
            if shared[name] != found[name]:
                sys.exit(f'{name} {found[name]} differs from ../shared/parity/MANIFEST.json ({shared[name]})')
    found['numpy'] = np.__version__
    found['python'] = sys.version.split()[0]
    return found


def sha256_file(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Fixtures: every derived image goes through a numpy array, so that nothing of the source's
# metadata (its ICC profile above all: PIL's PNG writer would copy it) leaks into a fixture.


def load_rgb(src_dir, name):
    return Image.open(os.path.join(src_dir, name)).convert('RGB')


def fit(im, width, height):
    """Centre-crop to the aspect of width × height, then LANCZOS-resize to exactly that size."""
    w, h = im.size
    if w * height > h * width:
        cw, ch = round(h * width / height), h
    else:
        cw, ch = w, round(w * height / width)
    left, top = (w - cw) // 2, (h - ch) // 2
    out = im.crop((left, top, left + cw, top + ch)).resize((width, height), Image.LANCZOS)
    return Image.fromarray(np.asarray(out))


def mosaic(src_dir, width, height):
    """A 2 × 2 mosaic of four photos: detail and tile edges across the centre crop."""
    tw, th = width // 2, height // 2
    tiles = [fit(load_rgb(src_dir, n), tw, th) for n in ('astronaut.png', 'rocket.jpg', 'coffee.png', 'chelsea.png')]
    canvas = np.zeros((height, width, 3), np.uint8)
    for i, tile in enumerate(tiles):
        y, x = (i // 2) * th, (i % 2) * tw
        canvas[y:y + th, x:x + tw] = np.asarray(tile)
    return Image.fromarray(canvas)


def stored_for(upright, orientation):
    """The pixels a camera stores so that EXIF `orientation` shows `upright` (exif_transpose's inverse)."""
    inverse = {1: None, 3: Image.ROTATE_180, 6: Image.ROTATE_90, 8: Image.ROTATE_270}[orientation]
    return upright if inverse is None else Image.fromarray(np.asarray(upright.transpose(inverse)))


def exif_bytes(orientation):
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return exif.tobytes()


def to_cmyk(im):
    """Full grey-component replacement (K = 1 − max(R, G, B)), so K carries the shadows."""
    rgb = np.asarray(im).astype(np.float64) / 255
    k = 1 - rgb.max(axis=2)
    denom = np.where(k < 1, 1 - k, 1)
    cmy = (1 - rgb - k[..., None]) / denom[..., None]
    cmyk = np.concatenate([cmy, k[..., None]], axis=2)
    return Image.fromarray(np.round(cmyk * 255).astype(np.uint8), 'CMYK')


def with_alpha(im):
    """RGBA: an opaque ellipse with a soft edge; outside it alpha is 0 and the RGB is kept."""
    w, h = im.size
    y, x = np.mgrid[0:h, 0:w]
    r = np.sqrt(((x - w / 2) / (0.42 * w)) ** 2 + ((y - h / 2) / (0.36 * h)) ** 2)
    alpha = np.clip((1.1 - r) / 0.2, 0, 1)
    rgba = np.dstack([np.asarray(im), np.round(alpha * 255).astype(np.uint8)])
    return Image.fromarray(rgba, 'RGBA')


def to_adobe_rgb(im, icc_path):
    """Re-encodes sRGB pixels in Adobe RGB (1998) (as a camera set to Adobe RGB would store them)."""
    srgb = ImageCms.createProfile('sRGB')
    adobe = ImageCms.getOpenProfile(icc_path)
    out = ImageCms.profileToProfile(im, srgb, adobe, renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode='RGB')
    return Image.fromarray(np.asarray(out))


# name, source(s), how it was made, builder(src_dir, icc) -> (image, save kwargs). Each one exists
# for a path of src/preprocess/decode-image.ts (resize factors: stored short side / 256).
FIXTURES = [
    ('mosaic_exif6_4032x3024_q85.jpg', ['astronaut.png', 'rocket.jpg', 'coffee.png', 'chelsea.png'],
     '12 MP JPEG, EXIF orientation 6 (stored landscape, upright 3024×4032): sharp with JPEG shrink-on-load (11.8×), '
     'crop mapped into the stored frame; 2×2 mosaic of the four photos, each crop+LANCZOS upscaled to 1512×2016',
     lambda s, icc: (stored_for(mosaic(s, 3024, 4032), 6), {'quality': 85, 'exif': exif_bytes(6)})),
    ('coffee_1440x1080_q85.jpg', ['coffee.png'],
     'mid-size JPEG (4.2×): the JS Pillow resampler; crop+LANCZOS upscale ×2.7',
     lambda s, icc: (fit(load_rgb(s, 'coffee.png'), 1440, 1080), {'quality': 85})),
    ('retina_1080x1080_q85_progressive.jpg', ['retina.jpg'],
     'progressive JPEG (4.2×): the JS Pillow resampler; LANCZOS downscale ×0.77',
     lambda s, icc: (fit(load_rgb(s, 'retina.jpg'), 1080, 1080), {'quality': 85, 'progressive': True})),
    ('chelsea_451x300_q85.jpg', ['chelsea.png'],
     'small JPEG, short side 300 (1.17×): sharp, one pass; source pixels re-encoded',
     lambda s, icc: (Image.fromarray(np.asarray(load_rgb(s, 'chelsea.png'))), {'quality': 85})),
    ('rocket_240x160_q90.jpg', ['rocket.jpg'],
     'short side 160 < 256: upscaled by Resize(256) (sharp); LANCZOS downscale ×0.375',
     lambda s, icc: (fit(load_rgb(s, 'rocket.jpg'), 240, 160), {'quality': 90})),
    ('camera_gray_1080x1080_q85.jpg', ['camera.png'],
     'greyscale (L) JPEG (4.2×): the JS Pillow resampler on one band; LANCZOS upscale ×2.1',
     lambda s, icc: (Image.fromarray(np.asarray(Image.open(os.path.join(s, 'camera.png')).convert('L').resize((1080, 1080), Image.LANCZOS))), {'quality': 85})),
    ('astronaut_cmyk_1080x1080_q90.jpg', ['astronaut.png'],
     'CMYK JPEG (Adobe APP14, no ICC), 4.2×: PIL\'s naive CMYK→RGB, then the JS Pillow resampler; '
     'LANCZOS upscale ×2.1, separated with full grey-component replacement',
     lambda s, icc: (to_cmyk(fit(load_rgb(s, 'astronaut.png'), 1080, 1080)), {'quality': 90})),
    ('chelsea_cmyk_451x300_q90.jpg', ['chelsea.png'],
     'small CMYK JPEG (1.17×): PIL\'s naive CMYK→RGB at full size, then sharp; source pixels, separated as above',
     lambda s, icc: (to_cmyk(load_rgb(s, 'chelsea.png')), {'quality': 90})),
    ('hubble_adobergb_icc_1080x810_q90.jpg', ['hubble_deep_field.jpg'],
     'JPEG with an embedded Adobe RGB (1998) ICC profile, pixels in Adobe RGB (3.2×: sharp); PIL and revmod '
     'both ignore the profile; crop+LANCZOS upscale ×1.08',
     lambda s, icc: (to_adobe_rgb(fit(load_rgb(s, 'hubble_deep_field.jpg'), 1080, 810), icc),
                     {'quality': 90, 'icc_profile': open(icc, 'rb').read()})),
    ('rocket_alpha_1024x1024.png', ['rocket.jpg'],
     'RGBA PNG (4.0×: the JS Pillow resampler), soft ellipse of alpha, RGB kept under alpha 0; crop+LANCZOS upscale ×2.4',
     lambda s, icc: (with_alpha(fit(load_rgb(s, 'rocket.jpg'), 1024, 1024)), {'optimize': True})),
    ('astronaut_alpha_512x512.png', ['astronaut.png'],
     'RGBA PNG (2.0×): alpha dropped at full size, then sharp; source pixels, alpha as above',
     lambda s, icc: (with_alpha(Image.fromarray(np.asarray(load_rgb(s, 'astronaut.png')))), {'optimize': True})),
    ('rocket_1440x1080_q80.webp', ['rocket.jpg'],
     'lossy WebP (4.2×): the JS Pillow resampler; crop+LANCZOS upscale ×2.5',
     lambda s, icc: (fit(load_rgb(s, 'rocket.jpg'), 1440, 1080), {'quality': 80, 'method': 4})),
    ('coffee_exif3_600x400_q85.jpg', ['coffee.png'],
     'JPEG, EXIF orientation 3 (upside down), 1.56×: sharp; source pixels, stored rotated 180°',
     lambda s, icc: (stored_for(Image.fromarray(np.asarray(load_rgb(s, 'coffee.png'))), 3), {'quality': 85, 'exif': exif_bytes(3)})),
    ('retina_exif8_1440x1080_q85.jpg', ['retina.jpg'],
     'JPEG, EXIF orientation 8 (stored landscape, upright 1080×1440), 4.2×: the JS Pillow resampler in the stored '
     'frame; crop+LANCZOS upscale ×1.02, stored rotated 90° clockwise',
     lambda s, icc: (stored_for(fit(load_rgb(s, 'retina.jpg'), 1080, 1440), 8), {'quality': 85, 'exif': exif_bytes(8)})),
]

# References: (fixture, exif_transpose applied). Orientation-tagged photos get the upright
# reference (revmod stands photos upright by default); the 12 MP one also the stored-orientation
# reference, the one ../shared/parity has (EXIF ignored), for revmod with autoOrient off.
REFERENCES = [(name, True) for name, *_ in FIXTURES] + [('mosaic_exif6_4032x3024_q85.jpg', False)]


def make_fixtures(src_dir, icc):
    if not os.path.isdir(src_dir):
        sys.exit(f'--skimage-data {src_dir}: not a directory (see the header of this script)')
    if not os.path.exists(icc):
        sys.exit(f'--icc {icc}: no such file (see the header of this script)')
    os.makedirs(OUT_DIR, exist_ok=True)
    sources = {}
    for name, srcs, why, build in FIXTURES:
        im, kwargs = build(src_dir, icc)
        fmt = 'WEBP' if name.endswith('.webp') else 'PNG' if name.endswith('.png') else 'JPEG'
        im.save(os.path.join(OUT_DIR, name), fmt, **kwargs)
        for s in srcs:
            sources[s] = sha256_file(os.path.join(src_dir, s))
        print(f'{name}: {os.path.getsize(os.path.join(OUT_DIR, name))} bytes')
    sources['compatibleWithAdobeRGB1998.icc'] = sha256_file(icc)
    return sources


# ---------------------------------------------------------------------------------------------
# References: PIL and torchvision only.


def open_as_reference(path, exif_transpose):
    im = Image.open(path)
    if exif_transpose:
        im = ImageOps.exif_transpose(im)
    return im.convert('RGB')


def reference_entry(name, exif_transpose, val_transform):
    path = os.path.join(OUT_DIR, name)
    src = Image.open(path)
    orientation = src.getexif().get(ORIENTATION_TAG)
    im = open_as_reference(path, exif_transpose)
    resized = transforms.Resize(RESIZE)(im)
    crop = transforms.CenterCrop(CROP)(resized)
    assert crop.size == (CROP, CROP) and crop.mode == 'RGB'

    # Named for the frame only where EXIF orientation makes the two differ.
    frame = '' if orientation in (None, 1) else ('.upright' if exif_transpose else '.stored')
    stem = f'{name}{frame}.png'
    crop_path = os.path.join(REF_DIR, stem)
    Image.fromarray(np.asarray(crop)).save(crop_path, 'PNG', optimize=True)

    # The PNG holds the whole reference: torchvision's full transform equals ToTensor + Normalize of it.
    full = val_transform(im)
    again = transforms.Normalize(MEAN, STD)(transforms.ToTensor()(Image.open(crop_path)))
    assert torch.equal(full, again), f'{stem}: the stored crop does not reproduce the transform'
    tensor_bytes = full.numpy().astype('<f4').tobytes()

    w, h = resized.size
    return {
        'image': name,
        'reference_png': f'reference/{stem}',
        'reference_png_sha256': sha256_file(crop_path),
        'image_sha256': sha256_file(path),
        'image_bytes': os.path.getsize(path),
        'format': src.format,
        'source_mode': src.mode,
        'progressive': bool(src.info.get('progressive') or src.info.get('progression')),
        'icc_profile_bytes': len(src.info.get('icc_profile') or b''),
        'stored_size_wh': list(src.size),
        'exif_orientation': orientation,
        'exif_transpose_applied': exif_transpose,
        'size_wh': list(im.size),
        'resize256_size_wh': [w, h],
        'crop_left_top': [int(round((w - CROP) / 2.0)), int(round((h - CROP) / 2.0))],
        'tensor_sha256': hashlib.sha256(tensor_bytes).hexdigest(),
        'tensor_mean': float(full.mean()),
    }


def make_references(versions, sources):
    os.makedirs(REF_DIR, exist_ok=True)
    val_transform = transforms.Compose([
        transforms.Resize(RESIZE),
        transforms.CenterCrop(CROP),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])
    why = {name: (srcs, text) for name, srcs, text, _ in FIXTURES}
    entries = []
    for name, exif_transpose in REFERENCES:
        e = reference_entry(name, exif_transpose, val_transform)
        e['why'], e['sources'] = why[name][1], why[name][0]
        entries.append(e)
        print(f'{e["reference_png"]}: {e["size_wh"]} -> {e["resize256_size_wh"]}, orientation {e["exif_orientation"]}')
    manifest_path = os.path.join(OUT_DIR, 'MANIFEST.json')
    previous = {}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            previous = json.load(f).get('source_sha256', {})
    manifest = {
        'description': 'torchvision val_transform references for the committed parity fixtures: '
                       "PIL's 224×224 RGB crop before ToTensor/Normalize, as a lossless PNG",
        'made_by': 'tools/parity/make-reference.py',
        'transform': {
            'decode': "PIL.Image.open(path), ImageOps.exif_transpose(...) where exif_transpose_applied, .convert('RGB') "
                      '(greyscale replicated, CMYK by PIL\'s naive formula, alpha dropped without compositing, ICC ignored)',
            'steps': ['transforms.Resize(256)', 'transforms.CenterCrop(224)',
                      '[stored: the PNG]', 'transforms.ToTensor()', f'transforms.Normalize(mean={MEAN}, std={STD})'],
            'tensor_sha256': "sha256 of torchvision's float32 CHW tensor (little-endian) from the full transform",
        },
        'mean': MEAN,
        'std': STD,
        'versions': versions,
        'source_credits': SOURCE_CREDITS,
        'source_sha256': {**previous, **sources},
        'entries': entries,
    }
    with open(manifest_path, 'w') as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write('\n')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('step', nargs='?', choices=['all', 'references'], default='all')
    parser.add_argument('--skimage-data', default=SKIMAGE_DEFAULT, help='scikit-image data folder (python3-skimage)')
    parser.add_argument('--icc', default=ICC_DEFAULT, help='compatibleWithAdobeRGB1998.icc (icc-profiles-free)')
    args = parser.parse_args()
    versions = check_versions()
    sources = make_fixtures(args.skimage_data, args.icc) if args.step == 'all' else {}
    make_references(versions, sources)


if __name__ == '__main__':
    main()
