"""Write the tiny random-init BERT text encoder of the ShapesWorld grounding specialist.

    python tools/misc/make_tiny_text_encoder.py data/shapesworld/text_encoder \
        --tokenizer data/shapesworld/tokenizer

The vocabulary is BERT's special tokens, ``. ? ,`` and every word of the ShapesWorld word-level
tokenizer; the directory loads offline with ``AutoTokenizer`` / ``BertModel.from_pretrained``
(:func:`mmvisionllm.models.language_models.build_tiny_text_encoder`). The real build points the
config at a local bert-base-uncased folder instead.
"""
import argparse

from mmvisionllm.models.language_models import build_tiny_text_encoder, text_encoder_vocabulary


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir', help='output directory (save_pretrained layout)')
    parser.add_argument(
        '--tokenizer',
        default='data/shapesworld/tokenizer',
        help='the ShapesWorld word-level tokenizer whose words make the vocabulary')
    parser.add_argument('--hidden-size', type=int, default=128)
    parser.add_argument('--num-layers', type=int, default=2)
    parser.add_argument('--num-heads', type=int, default=4)
    parser.add_argument('--intermediate-size', type=int, default=256)
    parser.add_argument('--max-positions', type=int, default=64)
    parser.add_argument('--seed', type=int, default=0, help='seed of the random initialisation')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    build_tiny_text_encoder(
        args.out_dir,
        args.tokenizer,
        hidden_size=args.hidden_size,
        num_hidden_layers=args.num_layers,
        num_attention_heads=args.num_heads,
        intermediate_size=args.intermediate_size,
        max_position_embeddings=args.max_positions,
        seed=args.seed)
    print(f'wrote {args.out_dir}: BERT {args.num_layers} x {args.hidden_size}, '
          f'{len(text_encoder_vocabulary(args.tokenizer))} tokens')


if __name__ == '__main__':
    main()
