"""Train the counting decoder alone, conditioned on the class instead of link embeddings.

A diagnostic of stage 3: each asked class gets a fixed random vector (the same for every image)
in place of the LLM's link states, so the decoder's image encoder and density head are trained
and scored with a perfect class signal. If this probe beats the image-blind baseline where stage
3 does not, the link states are what limits stage 3; if it does not, the decoder itself is.

Reads the COCO instance files of ShapesWorld directly (mmengine's ``load`` and ``mmcv.imread``)
and asks every class of every image, as the test samples of the plugin's dataset do.

Example::

    PYTHONPATH=. python projects/object_counting/tools/count_decoder_probe.py \
        --data-root data/shapesworld --iters 2000
"""
import argparse
import os.path as osp
from collections import Counter

import mmcv
import numpy as np
import torch
from mmengine.fileio import load

from projects.object_counting.object_counting.count_decoder import CountLinkDecoder


def read_split(root: str, split: str):
    """uint8 [3, H, W] images and [num_images, num_classes] counts of one split."""
    coco = load(osp.join(root, 'annotations', f'instances_{split}.json'))
    category_ids = [c['id'] for c in coco['categories']]
    counts = {image['id']: Counter() for image in coco['images']}
    for ann in coco['annotations']:
        if not ann.get('iscrowd', 0):
            counts[ann['image_id']][ann['category_id']] += 1
    images, table = [], []
    for image in coco['images']:
        path = osp.join(root, 'images', split, image['file_name'])
        pixels = mmcv.imread(path, channel_order='rgb')
        images.append(torch.from_numpy(pixels).permute(2, 0, 1).contiguous())
        table.append([counts[image['id']][c] for c in category_ids])
    names = [c['name'] for c in coco['categories']]
    return images, torch.tensor(table, dtype=torch.float32), names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', default='data/shapesworld')
    parser.add_argument('--iters', type=int, default=2000)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    train_images, train_counts, names = read_split(args.data_root, 'train')
    val_images, val_counts, _ = read_split(args.data_root, 'val')
    num_classes, width = len(names), 64
    class_vectors = torch.randn(num_classes, 4, width)  # [classes, N, C] stand-in link states
    decoder = CountLinkDecoder(num_queries=4, in_channels=width, feat_channels=64)
    optimizer = torch.optim.AdamW(decoder.parameters(), lr=args.lr, weight_decay=0.05)
    everything = class_vectors[None].expand(args.batch_size, -1, -1, -1)
    mask = torch.ones(args.batch_size, num_classes, dtype=torch.bool)
    decoder.train()
    for step in range(args.iters):
        index = torch.randint(0, len(train_images), (args.batch_size, ))
        predicted = decoder.counts(everything, [train_images[i] for i in index])
        loss = decoder.loss_count(predicted, train_counts[index], avg_factor=mask.sum())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if (step + 1) % 200 == 0:
            error = (predicted.detach() - train_counts[index]).abs().mean()
            print(f'iter {step + 1}: loss {loss.item():.4f}, train MAE {error:.3f}')
    decoder.eval()
    with torch.no_grad():
        predicted = torch.cat([
            decoder.counts(class_vectors[None].expand(len(chunk), -1, -1, -1), chunk)
            for chunk in (val_images[i:i + 50] for i in range(0, len(val_images), 50))
        ])
    rounded = predicted.round().clamp(0, decoder.max_count)
    # the image-blind baseline: each class's most frequent training count
    blind = torch.tensor([Counter(col.tolist()).most_common(1)[0][0]
                          for col in train_counts.T]).expand_as(val_counts)
    for label, guess in (('probe', rounded), ('image-blind baseline', blind)):
        print(f'val pairs {val_counts.numel()}, {label}: accuracy '
              f'{(guess == val_counts).float().mean():.3f}, MAE '
              f'{(guess - val_counts).abs().mean():.3f}')
    for c, name in enumerate(names):
        corr = np.corrcoef(val_counts[:, c], predicted[:, c])[0, 1]
        print(f'  {name}: accuracy {(rounded[:, c] == val_counts[:, c]).float().mean():.3f}, '
              f'correlation {corr:.2f}')


if __name__ == '__main__':
    main()
