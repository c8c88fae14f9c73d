#!/usr/bin/env python3
"""ONNX exports of oracle fixtures, in the layout of the ONNX-only Hugging Face repositories that
transformers.js users load (Xenova/all-MiniLM-L6-v2, Xenova/all-mpnet-base-v2, Xenova/paraphrase-albert-small-v2:
config.json, the tokenizer files, onnx/model.onnx, no model.safetensors). See README.md next to this file.

  fixtures/bert-tiny-onnx/           bert-tiny's config.json, tokenizer.json, tokenizer_config.json and
                                     onnx/model.onnx (f32)
  fixtures/mpnet-tiny-onnx/          mpnet-tiny's config.json, tokenizer files and sentence-transformers files,
                                     onnx/model.onnx (f32) and onnx/model_fp16.onnx (initializers stored as
                                     float16, each followed by a Cast to float)
  fixtures/bert-tiny-onnx-variants/  unnamed.onnx (bert-tiny-onnx's model.onnx with every node name cleared and
                                     every intermediate value renamed to a bare number), mpnet-fp16-unnamed.onnx
                                     (mpnet-tiny-onnx's model_fp16.onnx, likewise: its biases reach their Adds
                                     through Casts)
                                     and external/model.onnx + external/model.onnx_data (the same model with
                                     every initializer in one external data file)
  fixtures/ce-bert-tiny-onnx/        ce-bert-tiny (make_cross_encoder.py) as a text-classification repository
                                     (Xenova/ms-marco-MiniLM-L-6-v2's layout: one output `logits`)
  fixtures/ce-xlmr-tiny-onnx/        ce-xlmr-tiny likewise (Xenova/bge-reranker-base's layout: inputs input_ids
                                     and attention_mask, RoBERTa's positions computed in the graph)
  fixtures/albert-tiny-onnx/         albert-tiny (make_albert.py)'s config.json, tokenizer files and
                                     sentence-transformers files, onnx/model.onnx (f32): one shared layer run at
                                     4 steps (Xenova/paraphrase-albert-small-v2's layout)

The expected outputs stay in the source fixtures (fixtures/bert-tiny/, fixtures/mpnet-tiny/, fixtures/albert-tiny/:
expected.json, expected.safetensors); the weights are exactly those fixtures' model.safetensors.

Run from the repository root:  /usr/bin/python3 test/oracle/make_onnx.py   (~9 s, ~23 s on 2 cores; after
make_fixtures.py, make_mpnet.py, make_cross_encoder.py and make_albert.py; rewrites only its six folders). Needs
Debian's python3-torch (1.13) and python3-onnx (1.12); no transformers, no onnxruntime.

Each model is a torch.nn.Module whose attribute tree is transformers' (BertModel: embeddings.word_embeddings,
encoder.layer[l].attention.self.query, ...; MPNetModel: encoder.layer[l].attention.attn.q,
encoder.relative_attention_bias, ...; what the two share, the head split and attention, AddNorm, Layer, Encoder and
EncoderModel, is written once), so its parameter names are the safetensors names; it is loaded with
strict=True (bert-tiny: after removing the `bert.` prefix and the MLM head `cls.*`, which BertModel does not
hold) and its forward is transformers' in ordinary torch ops (modeling_bert.py / modeling_mpnet.py: BERT word +
position (the position_ids buffer, an arange) + token-type rows, LayerNorm, post-norm layers, erf GELU, extended
attention mask (1 - mask) * finfo(float32).min; MPNet position ids from padding_idx 1 as
create_position_ids_from_input_ids, the relative position bias of compute_position_bias (32 buckets, max
distance 128) added in every layer). AlbertModel (modeling_albert.py): AlbertEmbeddings (BERT's, embedding_size
wide), AlbertTransformer (embedding_hidden_mapping_in E -> H, then step i of num_hidden_layers calls
albert_layer_groups[int(i / (num_hidden_layers / num_hidden_groups))]: with one group the SAME AlbertLayerGroup /
AlbertLayer module at every step), AlbertAttention (query, key, value and its own dense + LayerNorm:
LayerNorm(x + dense(ctx))), AlbertLayer (ffn, gelu_new = the tanh approximation in torch ops, ffn_output,
full_layer_layer_norm), pooler a bare Linear (`pooler.{weight,bias}`), held, not exported. Before anything is
written, the module's hidden states for every fixture text (run alone, no padding) must match the float64 oracle's
expected.safetensors hidden.{i}.{l} at every layer to < 1e-4, and a right-padded batch must give the same rows.

torch.onnx.export as Optimum calls it for transformers.js: opset 14, do_constant_folding (the default), inputs
input_ids, attention_mask (+ token_type_ids for BERT and ALBERT), int64, dynamic axes batch / sequence, one output
last_hidden_state. Constant folding turns every nn.Linear's Transpose(weight) into a new [in, out] initializer
with an automatic name (onnx::MatMul_<n>), while the biases, LayerNorm parameters and embedding tables keep
their parameter names. A module called several times (ALBERT's shared layer) is traced once per call: its
parameters stay one initializer each; the first call's MatMul reads the folded weight directly, every later
call's reads it through an `Identity_<k>` node whose output is a fresh onnx::MatMul_<n> name (constant folding
makes one transposed copy per call, torch.onnx's _jit_pass_onnx_deduplicate_initializers keeps the first); the
biases and LayerNorm parameters are read under their own names by every call. The script prints the naming it
observes, and checks (by following the graph: MatMul [<- Identity | Cast] -> Add(bias initializer)) that every
weight of the safetensors file is found in the graph, bit for bit.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (re-executes under /usr/bin/python3 when torch is missing)
import post_norm_oracle as pn  # noqa: E402

import hashlib  # noqa: E402
import io  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from torch import nn  # noqa: E402

OPSET = 14
TOL = 1e-4  # float32 module vs the float64 oracle, max abs diff over every hidden state
BERT_SRC = pn.BERT
MPNET_SRC = os.path.join(mf.OUT, "mpnet-tiny")
BERT_DST = os.path.join(mf.OUT, "bert-tiny-onnx")
MPNET_DST = os.path.join(mf.OUT, "mpnet-tiny-onnx")
VARIANTS = os.path.join(mf.OUT, "bert-tiny-onnx-variants")
MLM_HEAD = "cls."  # bert-tiny's BertForMaskedLM head, not part of BertModel
CE_SRC = os.path.join(mf.OUT, "ce-bert-tiny")  # make_cross_encoder.py's BertForSequenceClassification
CE_DST = os.path.join(mf.OUT, "ce-bert-tiny-onnx")
CE_XLMR_SRC = os.path.join(mf.OUT, "ce-xlmr-tiny")  # make_cross_encoder.py's XLMRobertaForSequenceClassification
CE_XLMR_DST = os.path.join(mf.OUT, "ce-xlmr-tiny-onnx")
ALBERT_SRC = os.path.join(mf.OUT, "albert-tiny")  # make_albert.py's AlbertModel (one shared layer, 4 steps)
ALBERT_DST = os.path.join(mf.OUT, "albert-tiny-onnx")


# --------------------------------------------------------------------------------------------------
# transformers' BertModel, attribute for attribute (modeling_bert.py, absolute positions, no cache)
# --------------------------------------------------------------------------------------------------


def extended_mask(attention_mask, dtype):
    """ModuleUtilsMixin.get_extended_attention_mask for an encoder: [B, 1, 1, S], 0 or finfo.min."""
    m = attention_mask[:, None, None, :].to(dtype)
    return (1.0 - m) * torch.finfo(dtype).min


class GELU(nn.Module):  # transformers' GELUActivation ("gelu"): exact erf GELU
    def forward(self, x):
        return nn.functional.gelu(x)


class BertEmbeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        H, P = cfg["hidden_size"], cfg["max_position_embeddings"]
        self.word_embeddings = nn.Embedding(cfg["vocab_size"], H, padding_idx=cfg["pad_token_id"])
        self.position_embeddings = nn.Embedding(P, H)
        self.token_type_embeddings = nn.Embedding(cfg["type_vocab_size"], H)
        self.LayerNorm = nn.LayerNorm(H, eps=cfg["layer_norm_eps"])
        self.dropout = nn.Dropout(cfg["hidden_dropout_prob"])
        self.register_buffer("position_ids", torch.arange(P).expand((1, -1)), persistent=False)
        self.register_buffer("token_type_ids", torch.zeros((1, P), dtype=torch.long), persistent=False)

    def forward(self, input_ids, token_type_ids):
        seq_length = input_ids.size(1)
        position_ids = self.position_ids[:, 0:seq_length]
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class SelfAttention(nn.Module):
    """What BertSelfAttention and MPNetSelfAttention share: the head split and the scaled dot-product attention.
    Their projections (BERT's query / key / value, MPNet's q / k / v / o) are each one's own."""

    def __init__(self, cfg):
        super().__init__()
        self.num_attention_heads = cfg["num_attention_heads"]
        self.attention_head_size = cfg["hidden_size"] // self.num_attention_heads
        self.all_head_size = cfg["hidden_size"]
        self.dropout = nn.Dropout(cfg["attention_probs_dropout_prob"])

    def transpose_for_scores(self, x):
        new_x_shape = x.size()[:-1] + (self.num_attention_heads, self.attention_head_size)
        return x.view(new_x_shape).permute(0, 2, 1, 3)

    def context(self, query_layer, key_layer, value_layer, attention_mask, position_bias=None):
        """softmax(q k^T / sqrt(d) (+ MPNet's position_bias) + attention_mask) v, the heads side by side."""
        attention_scores = torch.matmul(query_layer, key_layer.transpose(-1, -2))
        attention_scores = attention_scores / math.sqrt(self.attention_head_size)
        if position_bias is not None:
            attention_scores += position_bias
        attention_scores = attention_scores + attention_mask
        attention_probs = self.dropout(nn.functional.softmax(attention_scores, dim=-1))
        context_layer = torch.matmul(attention_probs, value_layer).permute(0, 2, 1, 3).contiguous()
        return context_layer.view(context_layer.size()[:-2] + (self.all_head_size,))


class BertSelfAttention(SelfAttention):
    def __init__(self, cfg):
        super().__init__(cfg)
        H = cfg["hidden_size"]
        self.query = nn.Linear(H, H)
        self.key = nn.Linear(H, H)
        self.value = nn.Linear(H, H)

    def forward(self, hidden_states, attention_mask):
        query_layer = self.transpose_for_scores(self.query(hidden_states))
        key_layer = self.transpose_for_scores(self.key(hidden_states))
        value_layer = self.transpose_for_scores(self.value(hidden_states))
        return self.context(query_layer, key_layer, value_layer, attention_mask)


class AddNorm(nn.Module):  # BertSelfOutput (in_features = hidden) / BertOutput, MPNetOutput (intermediate)
    def __init__(self, cfg, in_features):
        super().__init__()
        self.dense = nn.Linear(in_features, cfg["hidden_size"])
        self.LayerNorm = nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])
        self.dropout = nn.Dropout(cfg["hidden_dropout_prob"])

    def forward(self, hidden_states, input_tensor):
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + input_tensor)


class BertAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self = BertSelfAttention(cfg)
        self.output = AddNorm(cfg, cfg["hidden_size"])

    def forward(self, hidden_states, attention_mask):
        return self.output(self.self(hidden_states, attention_mask), hidden_states)


class Intermediate(nn.Module):  # BertIntermediate / MPNetIntermediate
    def __init__(self, cfg):
        super().__init__()
        assert cfg["hidden_act"] == "gelu"
        self.dense = nn.Linear(cfg["hidden_size"], cfg["intermediate_size"])
        self.intermediate_act_fn = GELU()

    def forward(self, hidden_states):
        return self.intermediate_act_fn(self.dense(hidden_states))


class Layer(nn.Module):  # BertLayer (attention BertAttention) / MPNetLayer (MPNetAttention, with the position bias)
    def __init__(self, cfg, attention):
        super().__init__()
        self.attention = attention(cfg)
        self.intermediate = Intermediate(cfg)
        self.output = AddNorm(cfg, cfg["intermediate_size"])

    def forward(self, hidden_states, attention_mask, *position_bias):
        attention_output = self.attention(hidden_states, attention_mask, *position_bias)
        return self.output(self.intermediate(attention_output), attention_output)


class Encoder(nn.Module):  # BertEncoder; MPNetEncoder adds its relative position bias
    def __init__(self, cfg, attention):
        super().__init__()
        self.layer = nn.ModuleList([Layer(cfg, attention) for _ in range(cfg["num_hidden_layers"])])

    def forward(self, hidden_states, attention_mask, *position_bias):
        """hidden_states: [embedding output, layer 1, ..., layer L]."""
        states = [hidden_states]
        for layer_module in self.layer:
            hidden_states = layer_module(hidden_states, attention_mask, *position_bias)
            states.append(hidden_states)
        return states


class Pooler(nn.Module):  # BertPooler / MPNetPooler: held (its weights are in the checkpoint), not exported
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg["hidden_size"], cfg["hidden_size"])
        self.activation = nn.Tanh()

    def forward(self, hidden_states):
        return self.activation(self.dense(hidden_states[:, 0]))


class EncoderModel(nn.Module):
    """What BertModel and MPNetModel share: embeddings, encoder, pooler, and the hidden states from the ids, the
    0/1 attention mask (made additive) and, for BERT, the token types. Each one's forward(*input_names) returns
    last_hidden_state, the signature and first output of Optimum's feature-extraction export."""

    def __init__(self, cfg, embeddings, encoder):
        super().__init__()
        self.embeddings = embeddings
        self.encoder = encoder
        self.pooler = Pooler(cfg)

    def hidden_states(self, input_ids, attention_mask, *token_type_ids):
        embedding_output = self.embeddings(input_ids, *token_type_ids)
        return self.encoder(embedding_output, extended_mask(attention_mask, embedding_output.dtype))


class BertModel(EncoderModel):
    input_names = ["input_ids", "attention_mask", "token_type_ids"]

    def __init__(self, cfg):
        super().__init__(cfg, BertEmbeddings(cfg), Encoder(cfg, BertAttention))

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.hidden_states(input_ids, attention_mask, token_type_ids)[-1]

    def example(self, ids, mask):
        return (ids, mask, torch.zeros_like(ids))


class BertForSequenceClassification(nn.Module):
    """transformers' BertForSequenceClassification with one label (a cross-encoder): the pooler over the first
    token, then the classifier; the export's one output is `logits` [batch, 1], as Optimum's text-classification
    export (Xenova/ms-marco-MiniLM-L-6-v2)."""

    input_names = BertModel.input_names

    def __init__(self, cfg):
        super().__init__()
        self.bert = BertModel(cfg)
        self.classifier = nn.Linear(cfg["hidden_size"], 1)

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.classifier(self.bert.pooler(self.bert(input_ids, attention_mask, token_type_ids)))

    def example(self, ids, mask):
        return (ids, mask, torch.zeros_like(ids))


class RobertaEmbeddings(BertEmbeddings):
    """RobertaEmbeddings (modeling_roberta.py, as XLM-R's): BERT's tables, positions counted from padding_idx + 1
    over the real tokens (create_position_ids_from_input_ids), token type 0 throughout (XLM-R's tokenizer gives
    the model no token types)."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.padding_idx = cfg["pad_token_id"]
        self.position_embeddings = nn.Embedding(cfg["max_position_embeddings"], cfg["hidden_size"], padding_idx=self.padding_idx)

    def forward(self, input_ids):
        position_ids = create_position_ids_from_input_ids(input_ids, self.padding_idx)
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(torch.zeros_like(input_ids))
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class XLMRobertaModel(EncoderModel):
    input_names = ["input_ids", "attention_mask"]

    def __init__(self, cfg):
        super().__init__(cfg, RobertaEmbeddings(cfg), Encoder(cfg, BertAttention))
        del self.pooler  # XLMRobertaForSequenceClassification builds its encoder without one

    def forward(self, input_ids, attention_mask):
        return self.hidden_states(input_ids, attention_mask)[-1]

    def example(self, ids, mask):
        return (ids, mask)


class ClassificationHead(nn.Module):  # RobertaClassificationHead: dense, tanh, out_proj over <s>
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg["hidden_size"], cfg["hidden_size"])
        self.out_proj = nn.Linear(cfg["hidden_size"], 1)

    def forward(self, features):
        return self.out_proj(torch.tanh(self.dense(features[:, 0, :])))


class XLMRobertaForSequenceClassification(nn.Module):
    """transformers' XLMRobertaForSequenceClassification with one label (Xenova/bge-reranker-base's layout): the
    export's inputs input_ids and attention_mask, its one output `logits` [batch, 1]."""

    input_names = XLMRobertaModel.input_names

    def __init__(self, cfg):
        super().__init__()
        self.roberta = XLMRobertaModel(cfg)
        self.classifier = ClassificationHead(cfg)

    def forward(self, input_ids, attention_mask):
        return self.classifier(self.roberta(input_ids, attention_mask))

    def example(self, ids, mask):
        return (ids, mask)


# --------------------------------------------------------------------------------------------------
# transformers' MPNetModel, attribute for attribute (modeling_mpnet.py)
# --------------------------------------------------------------------------------------------------


def create_position_ids_from_input_ids(input_ids, padding_idx):
    mask = input_ids.ne(padding_idx).int()
    incremental_indices = torch.cumsum(mask, dim=1).type_as(mask) * mask
    return incremental_indices.long() + padding_idx


class MPNetEmbeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        H = cfg["hidden_size"]
        self.padding_idx = 1
        self.word_embeddings = nn.Embedding(cfg["vocab_size"], H, padding_idx=self.padding_idx)
        self.position_embeddings = nn.Embedding(cfg["max_position_embeddings"], H, padding_idx=self.padding_idx)
        self.LayerNorm = nn.LayerNorm(H, eps=cfg["layer_norm_eps"])
        self.dropout = nn.Dropout(cfg["hidden_dropout_prob"])
        P = cfg["max_position_embeddings"]
        self.register_buffer("position_ids", torch.arange(P).expand((1, -1)), persistent=False)

    def forward(self, input_ids):
        position_ids = create_position_ids_from_input_ids(input_ids, self.padding_idx)
        embeddings = self.word_embeddings(input_ids) + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class MPNetSelfAttention(SelfAttention):
    def __init__(self, cfg):
        super().__init__(cfg)
        H = cfg["hidden_size"]
        self.q = nn.Linear(H, H)
        self.k = nn.Linear(H, H)
        self.v = nn.Linear(H, H)
        self.o = nn.Linear(H, H)

    def forward(self, hidden_states, attention_mask, position_bias):
        q = self.transpose_for_scores(self.q(hidden_states))
        k = self.transpose_for_scores(self.k(hidden_states))
        v = self.transpose_for_scores(self.v(hidden_states))
        return self.o(self.context(q, k, v, attention_mask, position_bias))


class MPNetAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attn = MPNetSelfAttention(cfg)
        self.LayerNorm = nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])
        self.dropout = nn.Dropout(cfg["hidden_dropout_prob"])

    def forward(self, hidden_states, attention_mask, position_bias):
        return self.LayerNorm(self.dropout(self.attn(hidden_states, attention_mask, position_bias)) + hidden_states)


class MPNetEncoder(Encoder):
    def __init__(self, cfg):
        super().__init__(cfg, MPNetAttention)
        self.n_heads = cfg["num_attention_heads"]
        self.relative_attention_bias = nn.Embedding(cfg["relative_attention_num_buckets"], self.n_heads)

    def forward(self, hidden_states, attention_mask):
        return super().forward(hidden_states, attention_mask, self.compute_position_bias(hidden_states))

    def compute_position_bias(self, x, num_buckets=32):
        bsz, qlen, klen = x.size(0), x.size(1), x.size(1)
        context_position = torch.arange(qlen, dtype=torch.long)[:, None]
        memory_position = torch.arange(klen, dtype=torch.long)[None, :]
        relative_position = memory_position - context_position
        rp_bucket = self.relative_position_bucket(relative_position, num_buckets=num_buckets)
        values = self.relative_attention_bias(rp_bucket)
        values = values.permute([2, 0, 1]).unsqueeze(0)
        return values.expand((bsz, -1, qlen, klen)).contiguous()

    @staticmethod
    def relative_position_bucket(relative_position, num_buckets=32, max_distance=128):
        ret = 0
        n = -relative_position
        num_buckets //= 2
        ret += (n < 0).to(torch.long) * num_buckets
        n = torch.abs(n)
        max_exact = num_buckets // 2
        is_small = n < max_exact
        val_if_large = max_exact + (
            torch.log(n.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
        ).to(torch.long)
        val_if_large = torch.min(val_if_large, torch.full_like(val_if_large, num_buckets - 1))
        ret += torch.where(is_small, n, val_if_large)
        return ret


class MPNetModel(EncoderModel):
    """Optimum's MPNet export has no token_type_ids."""

    input_names = ["input_ids", "attention_mask"]

    def __init__(self, cfg):
        super().__init__(cfg, MPNetEmbeddings(cfg), MPNetEncoder(cfg))

    def forward(self, input_ids, attention_mask):
        return self.hidden_states(input_ids, attention_mask)[-1]

    def example(self, ids, mask):
        return (ids, mask)


# --------------------------------------------------------------------------------------------------
# transformers' AlbertModel, attribute for attribute (modeling_albert.py): one shared layer run at every step
# --------------------------------------------------------------------------------------------------


class NewGELU(nn.Module):  # transformers' NewGELUActivation ("gelu_new"): the tanh approximation
    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class AlbertEmbeddings(BertEmbeddings):
    """BERT's embeddings (word + token type + position rows from 0, LayerNorm), embedding_size wide."""

    def __init__(self, cfg):
        super().__init__(dict(cfg, hidden_size=cfg["embedding_size"]))


class AlbertAttention(SelfAttention):
    """The projections, the attention and its own output block: LayerNorm(x + dense(ctx))."""

    def __init__(self, cfg):
        super().__init__(cfg)
        H = cfg["hidden_size"]
        self.query = nn.Linear(H, H)
        self.key = nn.Linear(H, H)
        self.value = nn.Linear(H, H)
        self.output_dropout = nn.Dropout(cfg["hidden_dropout_prob"])
        self.dense = nn.Linear(H, H)
        self.LayerNorm = nn.LayerNorm(H, eps=cfg["layer_norm_eps"])

    def forward(self, hidden_states, attention_mask):
        query_layer = self.transpose_for_scores(self.query(hidden_states))
        key_layer = self.transpose_for_scores(self.key(hidden_states))
        value_layer = self.transpose_for_scores(self.value(hidden_states))
        context_layer = self.context(query_layer, key_layer, value_layer, attention_mask)
        return self.LayerNorm(hidden_states + self.output_dropout(self.dense(context_layer)))


class AlbertLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        assert cfg["hidden_act"] == "gelu_new"
        self.full_layer_layer_norm = nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])
        self.attention = AlbertAttention(cfg)
        self.ffn = nn.Linear(cfg["hidden_size"], cfg["intermediate_size"])
        self.ffn_output = nn.Linear(cfg["intermediate_size"], cfg["hidden_size"])
        self.activation = NewGELU()
        self.dropout = nn.Dropout(cfg["hidden_dropout_prob"])

    def forward(self, hidden_states, attention_mask):
        attention_output = self.attention(hidden_states, attention_mask)
        ffn_output = self.ffn_output(self.activation(self.ffn(attention_output)))
        return self.full_layer_layer_norm(ffn_output + attention_output)


class AlbertLayerGroup(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.albert_layers = nn.ModuleList([AlbertLayer(cfg) for _ in range(cfg["inner_group_num"])])

    def forward(self, hidden_states, attention_mask):
        for albert_layer in self.albert_layers:
            hidden_states = albert_layer(hidden_states, attention_mask)
        return hidden_states


class AlbertTransformer(nn.Module):
    """The projection E -> H, then step i of num_hidden_layers runs group int(i / (layers / groups)): with one
    group, the same module at every step (traced once per call)."""

    def __init__(self, cfg):
        super().__init__()
        self.num_hidden_layers = cfg["num_hidden_layers"]
        self.num_hidden_groups = cfg["num_hidden_groups"]
        self.embedding_hidden_mapping_in = nn.Linear(cfg["embedding_size"], cfg["hidden_size"])
        self.albert_layer_groups = nn.ModuleList([AlbertLayerGroup(cfg) for _ in range(self.num_hidden_groups)])

    def forward(self, hidden_states, attention_mask):
        """hidden_states: [projected embeddings, step 1, ..., step L]."""
        hidden_states = self.embedding_hidden_mapping_in(hidden_states)
        states = [hidden_states]
        for i in range(self.num_hidden_layers):
            group_idx = int(i / (self.num_hidden_layers / self.num_hidden_groups))
            hidden_states = self.albert_layer_groups[group_idx](hidden_states, attention_mask)
            states.append(hidden_states)
        return states


class AlbertModel(EncoderModel):
    """AlbertModel's pooler is a bare Linear (`pooler.{weight,bias}`) + pooler_activation; held, not exported."""

    input_names = BertModel.input_names

    def __init__(self, cfg):
        super().__init__(cfg, AlbertEmbeddings(cfg), AlbertTransformer(cfg))
        self.pooler = nn.Linear(cfg["hidden_size"], cfg["hidden_size"])
        self.pooler_activation = nn.Tanh()

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.hidden_states(input_ids, attention_mask, token_type_ids)[-1]

    def example(self, ids, mask):
        return (ids, mask, torch.zeros_like(ids))


# --------------------------------------------------------------------------------------------------
# Loading and the checks against the float64 oracle
# --------------------------------------------------------------------------------------------------


def load_model(cls, src, prefix, drop=None):
    """The module built from src/config.json with src/model.safetensors loaded strictly (float32): every
    tensor under prefix (removed), except those under drop (a head the base model does not hold)."""
    cfg = pn.read_json(os.path.join(src, "config.json"))
    sd, dropped = {}, []
    for name, a in mf.read_safetensors(os.path.join(src, "model.safetensors")).items():
        if drop and name.startswith(drop):
            dropped.append(name)
            continue
        assert name.startswith(prefix), name
        sd[name[len(prefix) :]] = torch.from_numpy(a.astype(np.float32))
    model = cls(cfg)
    model.load_state_dict(sd, strict=True)
    model.eval()
    return model, cfg, sd, dropped


def check_against_oracle(name, model, cfg, src):
    """Each text alone (no padding) matches expected.safetensors hidden.{i}.{l} at every layer (< TOL), and a
    right-padded batch gives the same rows (< 1e-5). Returns the ids and the largest differences."""
    exp = pn.read_json(os.path.join(src, "expected.json"))
    E = mf.read_safetensors(os.path.join(src, "expected.safetensors"))
    ids, L = exp["ids"], exp["layers"]
    assert L == cfg["num_hidden_layers"]
    worst, alone = 0.0, []
    with torch.no_grad():
        for i, x in enumerate(ids):
            t = torch.tensor([x])
            states = model.hidden_states(*model.example(t, torch.ones_like(t)))
            assert len(states) == L + 1
            alone.append(states)
            for l in range(L + 1):
                d = np.abs(states[l][0].numpy().astype(np.float64) - E[f"hidden.{i}.{l}"].astype(np.float64)).max()
                worst = max(worst, float(d))
                assert d < TOL, (name, i, l, d)
        inp, mask = pn.padded_batch(ids, cfg["pad_token_id"])
        batch = model.hidden_states(*model.example(inp, mask))
        worst_pad = 0.0
        for i, x in enumerate(ids):
            for l in range(L + 1):
                d = (batch[l][i, : len(x)] - alone[i][l][0]).abs().max().item()
                worst_pad = max(worst_pad, d)
                assert d < 1e-5, (name, "padded", i, l, d)
    print(f"{name}: torch f32 module vs float64 oracle, {len(ids)} texts x {L + 1} states: max abs diff "
          f"{worst:.2e}; padded batch vs alone {worst_pad:.2e}")
    return ids


# --------------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------------


def export(model, example_ids, pad, output="last_hidden_state"):
    """torch.onnx.export as Optimum's feature-extraction (or, output "logits", text-classification) export calls
    it; returns the ModelProto."""
    ids, mask = pn.padded_batch(example_ids, pad)
    names = model.input_names
    axes = {n: {0: "batch_size", 1: "sequence_length"} for n in names}
    axes[output] = {0: "batch_size"} if output == "logits" else {0: "batch_size", 1: "sequence_length"}
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(model, model.example(ids, mask), buf, input_names=names,
                          output_names=[output], dynamic_axes=axes, opset_version=OPSET,
                          do_constant_folding=True)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    return proto


# --------------------------------------------------------------------------------------------------
# Graph rewrites: float16 initializers, cleared names, external data
# --------------------------------------------------------------------------------------------------


def fp16_initializers(proto):
    """The same graph with every FLOAT initializer stored as FLOAT16 under its own name, and a Cast to float
    (node `<name>_cast`, output `<name>_float`) in front of the original nodes, which now read `<name>_float`.
    The arithmetic stays float32, on the rounded weights."""
    m = onnx.ModelProto()
    m.CopyFrom(proto)
    g = m.graph
    inits, casts, rename = [], [], {}
    for t in g.initializer:
        if t.data_type != TensorProto.FLOAT:
            inits.append(t)
            continue
        h = numpy_helper.to_array(t).astype(np.float16)
        assert np.isfinite(h).all(), t.name
        inits.append(numpy_helper.from_array(h, t.name))
        rename[t.name] = t.name + "_float"
        casts.append(helper.make_node("Cast", [t.name], [rename[t.name]], name=t.name + "_cast", to=TensorProto.FLOAT))
    nodes = list(g.node)
    for n in nodes:
        for k, x in enumerate(n.input):
            if x in rename:
                n.input[k] = rename[x]
    del g.initializer[:]
    g.initializer.extend(inits)
    del g.node[:]
    g.node.extend(casts + nodes)
    onnx.checker.check_model(m)
    return m


def unnamed(proto):
    """Every node's name cleared, and every intermediate value renamed to a bare number (the graph's inputs,
    outputs and initializers keep their names): neither node names nor value names tell which module a MatMul
    belongs to; only the graph does (MatMul -> Add with a `.bias` initializer)."""
    m = onnx.ModelProto()
    m.CopyFrom(proto)
    g = m.graph
    keep = {v.name for v in g.input} | {v.name for v in g.output} | {t.name for t in g.initializer}
    rename = {}
    for n in g.node:
        n.name = ""
        for k, x in enumerate(n.output):
            if x not in keep:
                rename[x] = rename.get(x, str(len(rename) + 1000))
                n.output[k] = rename[x]
    for n in g.node:
        for k, x in enumerate(n.input):
            n.input[k] = rename.get(x, x)
    assert not g.value_info
    onnx.checker.check_model(m)
    return m


def save_external(proto, folder):
    """folder/model.onnx + folder/model.onnx_data: every initializer in the one external file."""
    m = onnx.ModelProto()
    m.CopyFrom(proto)
    os.makedirs(folder, exist_ok=True)
    onnx.save_model(m, os.path.join(folder, "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="model.onnx_data", size_threshold=0)


# --------------------------------------------------------------------------------------------------
# Following the graph: the weights a reader finds, and a numpy evaluator of the ops these graphs use
# --------------------------------------------------------------------------------------------------


def graph_index(g):
    inits = {t.name: t for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    consumers = {}
    for n in g.node:
        for x in n.input:
            consumers.setdefault(x, []).append(n)
    return inits, producer, consumers


def resolve(name, inits, producer):
    """The initializer behind a node input: itself, or the input of a Cast that reads it (fp16 files), or of an
    Identity that reads it (torch.onnx's stand-in for a second use of a folded weight: ALBERT's shared layer)."""
    if name in inits:
        return name
    n = producer.get(name)
    if n is not None and n.op_type in ("Cast", "Identity") and n.input[0] in inits:
        return n.input[0]
    return None


def weights_from_graph(proto):
    """{safetensors name: float32 array} as a reader must find them: initializers under their own names, and
    for every MatMul by an initializer, the Add that reads its output and a `<module>.bias` initializer: the
    transposed matrix is `<module>.weight`. Also {safetensors name: (MatMul node, Add node)}, the first such pair
    in graph order: a module called several times (ALBERT's shared layer) has one MatMul -> Add per call, each
    reading the same initializer (directly or through an Identity) and the same bias."""
    g = proto.graph
    inits, producer, consumers = graph_index(g)
    arr = lambda name: numpy_helper.to_array(inits[name]).astype(np.float32)  # noqa: E731
    found, linear, used = {}, {}, set()
    for n in g.node:
        if n.op_type != "MatMul":
            continue
        w = resolve(n.input[1], inits, producer)
        if w is None:
            continue
        adds = [a for a in consumers.get(n.output[0], []) if a.op_type == "Add"]
        assert len(adds) == 1, (n.name, [a.op_type for a in consumers.get(n.output[0], [])])
        add = adds[0]
        bias = [resolve(x, inits, producer) for x in add.input if x != n.output[0]]
        assert len(bias) == 1 and bias[0] and bias[0].endswith(".bias"), (n.name, list(add.input))
        name = bias[0][: -len(".bias")] + ".weight"
        if name in linear:  # another call of the same module: the same weight
            assert resolve(linear[name][0].input[1], inits, producer) == w, (name, n.name, w)
            continue
        found[name] = arr(w).T
        linear[name] = (n, add)
        used.add(w)
    for name in inits:
        if name not in used and not name.startswith("onnx::"):
            found[name] = arr(name)
    leftover = [x for x in inits if x.startswith("onnx::") and x not in used]
    assert not leftover, ("initializers that are neither parameters nor MatMul weights", leftover)
    return found, linear


def check_weights(label, proto, sd, dtype=np.float32):
    """The weights found by following the graph are the module's parameters (rounded to dtype), bit for bit,
    every one the forward uses (the pooler's are not exported), and nothing else."""
    found, linear = weights_from_graph(proto)
    want = {n: t.numpy() for n, t in sd.items() if not n.startswith("pooler.")}
    assert sorted(found) == sorted(want), (label, sorted(set(found) ^ set(want)))
    for n, a in want.items():
        assert np.array_equal(found[n], a.astype(dtype).astype(np.float32)), (label, n)
    return found, linear


NP = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "MatMul": np.matmul, "Equal": np.equal,
    "Less": np.less, "Where": np.where, "Neg": np.negative, "Abs": np.abs, "Log": np.log, "Sqrt": np.sqrt,
    "Not": np.logical_not, "Cos": np.cos, "Sin": np.sin, "And": np.logical_and, "LessOrEqual": np.less_equal,
    "Greater": np.greater, "GreaterOrEqual": np.greater_equal, "Reciprocal": np.reciprocal,
}  # fmt: skip


def run_numpy(proto, feeds):
    """Evaluates the graph in numpy (float32 where the graph is float32), op by op, for the ops these exports
    contain (opset 14 semantics). Returns the graph's first output. (MPNet's bucket branch takes log(0) = -inf
    and casts it to int64 at distance 0, as torch's graph does; Where discards that value.)"""
    with np.errstate(divide="ignore", invalid="ignore"):
        return _run_numpy(proto.graph, feeds)


def _run_numpy(g, feeds):
    env = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    env.update(feeds)
    for n in g.node:
        a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
        i = [env[x] if x else None for x in n.input]
        op = n.op_type
        if op in NP:
            out = NP[op](*i)
        elif op == "Constant":
            out = numpy_helper.to_array(a["value"])
        elif op == "Div":
            out = np.fix(i[0] / i[1]).astype(i[0].dtype) if i[0].dtype.kind == "i" else i[0] / i[1]
        elif op == "Pow":
            out = np.power(i[0], i[1]).astype(i[0].dtype)
        elif op == "Erf":
            out = np.vectorize(math.erf)(i[0].astype(np.float64)).astype(i[0].dtype)
        elif op == "Shape":
            out = np.array(i[0].shape, dtype=np.int64)
        elif op == "Gather":
            out = np.take(i[0], i[1], axis=a.get("axis", 0))
        elif op == "Unsqueeze":
            out = i[0]
            rank = out.ndim + len(i[1])
            for ax in sorted(int(x) % rank for x in i[1]):
                out = np.expand_dims(out, ax)
        elif op == "Slice":
            axes = i[3] if len(i) > 3 and i[3] is not None else range(len(i[1]))
            steps = i[4] if len(i) > 4 and i[4] is not None else [1] * len(i[1])
            sl = [slice(None)] * i[0].ndim
            for s, e, ax, st in zip(i[1], i[2], axes, steps):
                sl[int(ax)] = slice(int(s), int(e), int(st))
            out = i[0][tuple(sl)]
        elif op == "ReduceMean":
            out = i[0].mean(axis=tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1))).astype(i[0].dtype)
        elif op == "Cast":
            out = i[0].astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[a["to"]])
        elif op == "Reshape":
            shape = [d if d != 0 else i[0].shape[k] for k, d in enumerate(i[1].tolist())]
            out = i[0].reshape(shape)
        elif op == "Transpose":
            out = np.transpose(i[0], a.get("perm"))
        elif op == "Concat":
            out = np.concatenate(i, axis=a["axis"])
        elif op == "Softmax":
            ax = a.get("axis", -1)
            e = np.exp(i[0] - i[0].max(axis=ax, keepdims=True))
            out = e / e.sum(axis=ax, keepdims=True)
        elif op == "CumSum":
            assert not a.get("exclusive") and not a.get("reverse")
            out = np.cumsum(i[0], axis=int(i[1])).astype(i[0].dtype)
        elif op == "Range":
            out = np.arange(i[0], i[1], i[2]).astype(i[0].dtype)
        elif op == "Min":
            out = np.minimum.reduce(i)
        elif op == "ConstantOfShape":
            v = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
            out = np.full(i[0].tolist(), v.reshape(-1)[0], dtype=v.dtype)
        elif op == "Expand":
            out = np.broadcast_to(i[0], np.broadcast_shapes(i[0].shape, tuple(i[1].tolist())))
        elif op == "Gemm":
            x = i[0].T if a.get("transA") else i[0]
            w = i[1].T if a.get("transB") else i[1]
            out = (a.get("alpha", 1.0) * (x @ w) + a.get("beta", 1.0) * (i[2] if len(i) > 2 and i[2] is not None else 0)).astype(x.dtype)
        elif op == "Tanh":
            out = np.tanh(i[0])
        elif op == "Identity":
            out = i[0]
        else:
            raise NotImplementedError(op)
        env[n.output[0]] = np.asarray(out)
    return env[g.output[0].name]


def check_graph(label, proto, model, src, ids, pad, tol=TOL, weights_dtype=None):
    """The ONNX graph, evaluated in numpy, against the float64 oracle's last layer for every text alone, and
    for a right-padded batch against the torch module's rows. Returns the largest difference from the oracle."""
    E = mf.read_safetensors(os.path.join(src, "expected.safetensors"))
    L = pn.read_json(os.path.join(src, "expected.json"))["layers"]
    names = model.input_names
    worst = 0.0
    for k, x in enumerate(ids):
        t = np.array([x], dtype=np.int64)
        feeds = dict(zip(names, [t, np.ones_like(t), np.zeros_like(t)]))
        out = run_numpy(proto, feeds)
        assert out.dtype == np.float32 and out.shape == (1, *E[f"hidden.{k}.{L}"].shape)
        worst = max(worst, float(np.abs(out[0].astype(np.float64) - E[f"hidden.{k}.{L}"]).max()))
    assert worst < tol, (label, worst)
    inp, mask = (t.numpy() for t in pn.padded_batch(ids, pad))
    out = run_numpy(proto, dict(zip(names, [inp, mask, np.zeros_like(inp)])))
    with torch.no_grad():
        ref = model(*model.example(torch.from_numpy(inp), torch.from_numpy(mask))).numpy()
    d = max(float(np.abs(out[k, : len(x)] - ref[k, : len(x)]).max()) for k, x in enumerate(ids))
    assert d < 1e-5, (label, "padded batch vs torch", d)
    return worst, d


# --------------------------------------------------------------------------------------------------
# What the exports look like
# --------------------------------------------------------------------------------------------------


def storage(proto):
    """How the initializers (and Constant nodes' tensors) hold their data: counts by field."""
    def field(t):
        if t.data_location == TensorProto.EXTERNAL:
            return "external"
        for f in ("raw_data", "float_data", "int32_data", "int64_data", "double_data"):
            if t.HasField(f) if f == "raw_data" else len(getattr(t, f)):
                return f
        return "empty"

    inits = {}
    for t in proto.graph.initializer:
        inits[field(t)] = inits.get(field(t), 0) + 1
    consts = {}
    for n in proto.graph.node:
        if n.op_type == "Constant":
            f = field(n.attribute[0].t)
            consts[f] = consts.get(f, 0) + 1
    return inits, consts


def describe(label, proto, linear, path):
    g = proto.graph
    inits, producer, consumers = graph_index(g)
    opset = [(o.domain or "ai.onnx", o.version) for o in proto.opset_import]
    print(f"{label}: {os.path.relpath(path, mf.REPO)} {os.path.getsize(path):,} bytes, opset {opset}, "
          f"ir_version {proto.ir_version}, producer {proto.producer_name} {proto.producer_version}, "
          f"{len(g.node)} nodes, {len(g.initializer)} initializers")
    names = [t.name for t in g.initializer]
    print(f"  initializers (first 20): {names[:20]}")
    mm = [t for t in names if t.startswith("onnx::MatMul_")]
    print(f"  onnx::MatMul_* (transposed [in, out] nn.Linear weights): {len(mm)}: {mm[:4]} ... {mm[-1]}")
    init_store, const_store = storage(proto)
    print(f"  initializer storage {init_store}; Constant node tensors {const_store}")
    mat = [n.name for n in g.node if n.op_type == "MatMul" and resolve(n.input[1], inits, producer)]
    other = [n.name for n in g.node if n.op_type == "MatMul" and not resolve(n.input[1], inits, producer)]
    print(f"  MatMul by a weight: {len(mat)}, named like {mat[0]!r}; activation x activation MatMuls: "
          f"{len(other)}, like {other[0]!r}")
    for key in ("encoder.layer.0.attention.self.query.weight", "encoder.layer.0.attention.attn.q.weight",
                "encoder.layer.0.intermediate.dense.weight", "encoder.embedding_hidden_mapping_in.weight",
                "encoder.albert_layer_groups.0.albert_layers.0.attention.query.weight",
                "encoder.albert_layer_groups.0.albert_layers.0.ffn.weight"):
        if key in linear:
            n, add = linear[key]
            w = resolve(n.input[1], inits, producer)
            print(f"  {key}: MatMul {n.name!r} inputs {list(n.input)} (initializer {w!r} dims "
                  f"{list(inits[w].dims)}); Add {add.name!r} inputs {list(add.input)}")
    for n in g.node:
        if n.op_type == "Gather" and resolve(n.input[0], inits, producer):
            print(f"  Gather {n.name!r} inputs {list(n.input)}")
        if n.op_type in ("Mul", "Add") and any(x.endswith("embeddings.LayerNorm.weight")
                                               or x.endswith("embeddings.LayerNorm.bias") for x in n.input):
            print(f"  {n.op_type} {n.name!r} inputs {list(n.input)}")


def describe_shared(label, proto, sd, calls):
    """A module called several times (ALBERT's one layer, run at every step): every Linear weight's initializer,
    the MatMuls that use it and how each reaches it (the first directly, the later ones through an Identity node
    whose output is a fresh onnx::MatMul_<n> name); every other parameter, the nodes that read it. Asserts that
    each shared parameter is read once per call: `calls` {name prefix: number of calls}."""
    g = proto.graph
    inits, producer, consumers = graph_index(g)
    names = [t.name for t in g.initializer]
    print(f"{label}: all {len(names)} initializers: {names}")
    _, linear = weights_from_graph(proto)
    for name in sd:
        want = next((c for p, c in calls.items() if name.startswith(p)), 1)
        if name in linear:
            w = resolve(linear[name][0].input[1], inits, producer)
            uses = [n for n in g.node if n.op_type == "MatMul" and resolve(n.input[1], inits, producer) == w]
            direct = [n.op_type for n in consumers.get(w, [])]
            assert len(uses) == want and sorted(direct) == ["Identity"] * (want - 1) + ["MatMul"], (name, direct)
            print(f"  {name}: initializer {w!r} {list(inits[w].dims)}, read by {direct.count('MatMul')} MatMul and "
                  f"{direct.count('Identity')} Identity; {len(uses)} MatMuls:")
            for n in uses:
                via = "directly" if n.input[1] == w else f"through {producer[n.input[1]].name!r} as {n.input[1]!r}"
                print(f"    {n.name!r} {via}")
        elif name in inits:
            readers = consumers.get(name, [])
            assert len(readers) == want, (name, [n.name for n in readers])
            print(f"  {name}: initializer under its own name, read by {len(readers)} nodes "
                  f"{sorted({n.op_type for n in readers})}: {[n.name for n in readers]}")
        else:
            print(f"  {name}: not in the graph")


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------


def new_folder(folder):
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(os.path.join(folder, "onnx"))


def copy_files(src, dst, names):
    for name in names:
        os.makedirs(os.path.dirname(os.path.join(dst, name)), exist_ok=True)
        shutil.copyfile(os.path.join(src, name), os.path.join(dst, name))


def exported(name, cls, src, prefix, drop=None):
    """The loaded module (checked against the oracle), its ONNX export (exported twice: the bytes must agree)
    and the weights found in it."""
    model, cfg, sd, dropped = load_model(cls, src, prefix, drop)
    if dropped:
        print(f"{name}: not in {cls.__name__} (dropped before the strict load): {len(dropped)} tensors {dropped}")
    ids = check_against_oracle(name, model, cfg, src)
    example = [ids[9], ids[4]]  # "Hi!" and a 20-token text, right-padded
    proto = export(model, example, cfg["pad_token_id"])
    again = export(model, example, cfg["pad_token_id"])
    assert proto.SerializeToString() == again.SerializeToString(), f"{name}: two exports differ"
    found, linear = check_weights(name, proto, sd)
    return model, cfg, sd, ids, proto, linear


def cross_encoder(cls, src, head):
    """A make_cross_encoder.py fixture as a transformers.js text-classification repository: the module checked
    against its float64 logits, exported with one output `logits`, and the graph evaluated in numpy on every pair
    (with its token types, where the model reads them) against those logits. `head`: two of the head's
    parameters, whose nodes are reported."""
    model, cfg, sd, _ = load_model(cls, src, "")
    exp = pn.read_json(os.path.join(src, "expected.json"))
    name = os.path.basename(src)
    worst_torch, worst_graph = 0.0, 0.0
    proto = export(model, [exp["ids"][1], exp["ids"][7]], cfg["pad_token_id"], "logits")
    found, _ = weights_from_graph(proto)
    assert sorted(found) == sorted(sd), sorted(set(found) ^ set(sd))
    for n, t in sd.items():
        assert np.array_equal(found[n], t.numpy()), n
    typed = "token_type_ids" in model.input_names
    for ids, types, want in zip(exp["ids"], exp["token_type_ids"], exp["logits"]):
        t, tt = torch.tensor([ids]), torch.tensor([types])
        inputs = [t, torch.ones_like(t), *([tt] if typed else [])]
        with torch.no_grad():
            got = model(*inputs)[0, 0].item()
        worst_torch = max(worst_torch, abs(got - want))
        out = run_numpy(proto, dict(zip(model.input_names, [x.numpy() for x in inputs])))
        assert out.shape == (1, 1)
        worst_graph = max(worst_graph, abs(float(out[0, 0]) - want))
    assert worst_torch < TOL and worst_graph < TOL, (worst_torch, worst_graph)
    ops = sorted({n.op_type for n in proto.graph.node if any(x in n.input for x in head)})
    print(f"{name}: {len(exp['ids'])} pairs, torch f32 module vs float64 oracle logits {worst_torch:.2e}, "
          f"numpy evaluation of the graph {worst_graph:.2e}; the head's weights reach {ops} under their own names")
    return proto


def main():
    print(f"torch {torch.__version__}, onnx {onnx.__version__}, numpy {np.__version__}")
    # Everything is built and checked before any folder is touched.
    bert, bert_cfg, bert_sd, bert_ids, bert_proto, bert_linear = exported(
        "bert-tiny", BertModel, BERT_SRC, "bert.", MLM_HEAD
    )
    mpnet, mpnet_cfg, mpnet_sd, mpnet_ids, mpnet_proto, mpnet_linear = exported(
        "mpnet-tiny", MPNetModel, MPNET_SRC, ""
    )
    mpnet_fp16 = fp16_initializers(mpnet_proto)
    check_weights("mpnet-tiny fp16", mpnet_fp16, mpnet_sd, np.float16)
    ce_proto = cross_encoder(BertForSequenceClassification, CE_SRC, ("bert.pooler.dense.weight", "classifier.weight"))
    ce_xlmr_proto = cross_encoder(
        XLMRobertaForSequenceClassification, CE_XLMR_SRC, ("classifier.dense.weight", "classifier.out_proj.weight")
    )
    albert, albert_cfg, albert_sd, albert_ids, albert_proto, albert_linear = exported(
        "albert-tiny", AlbertModel, ALBERT_SRC, ""
    )
    bert_unnamed = unnamed(bert_proto)
    check_weights("bert-tiny unnamed", bert_unnamed, bert_sd)
    assert not any(n.name for n in bert_unnamed.graph.node)
    # Biases behind Casts, no names: only Cast-following MatMul -> Add finds the weights.
    mpnet_fp16_unnamed = unnamed(mpnet_fp16)
    check_weights("mpnet-tiny fp16 unnamed", mpnet_fp16_unnamed, mpnet_sd, np.float16)

    results = {}
    results["bert-tiny model.onnx"] = check_graph("bert", bert_proto, bert, BERT_SRC, bert_ids, 0)
    results["bert-tiny unnamed.onnx"] = check_graph("bert unnamed", bert_unnamed, bert, BERT_SRC, bert_ids, 0)
    results["mpnet-tiny model.onnx"] = check_graph("mpnet", mpnet_proto, mpnet, MPNET_SRC, mpnet_ids, 1)
    results["albert-tiny model.onnx"] = check_graph("albert", albert_proto, albert, ALBERT_SRC, albert_ids, 0)
    # fp16: against the oracle loosely; against the torch module holding the same rounded weights tightly.
    rounded, _, _, _ = load_model(MPNetModel, MPNET_SRC, "")
    with torch.no_grad():
        for p in rounded.parameters():
            p.copy_(p.half().float())
    results["mpnet-tiny model_fp16.onnx"] = check_graph("mpnet fp16", mpnet_fp16, rounded, MPNET_SRC, mpnet_ids, 1,
                                                        tol=5e-2)
    for k, (oracle, padded) in results.items():
        print(f"{k}: numpy evaluation of the graph vs float64 oracle (last layer, each text alone) max abs diff "
              f"{oracle:.2e}; padded batch vs the torch module {padded:.2e}")

    new_folder(BERT_DST)
    copy_files(BERT_SRC, BERT_DST, ["config.json", "tokenizer.json", "tokenizer_config.json"])
    onnx.save(bert_proto, os.path.join(BERT_DST, "onnx", "model.onnx"))

    new_folder(MPNET_DST)
    st = ["modules.json", "sentence_bert_config.json", "1_Pooling/config.json"]
    st += [os.path.join("2_Normalize", f) for f in sorted(os.listdir(os.path.join(MPNET_SRC, "2_Normalize")))]
    copy_files(MPNET_SRC, MPNET_DST, ["config.json", "tokenizer.json", "tokenizer_config.json", *st])
    onnx.save(mpnet_proto, os.path.join(MPNET_DST, "onnx", "model.onnx"))
    onnx.save(mpnet_fp16, os.path.join(MPNET_DST, "onnx", "model_fp16.onnx"))

    new_folder(CE_DST)
    copy_files(CE_SRC, CE_DST, ["config.json", "tokenizer.json", "tokenizer_config.json"])
    onnx.save(ce_proto, os.path.join(CE_DST, "onnx", "model.onnx"))

    new_folder(CE_XLMR_DST)
    copy_files(CE_XLMR_SRC, CE_XLMR_DST, ["config.json", "tokenizer.json", "tokenizer_config.json"])
    onnx.save(ce_xlmr_proto, os.path.join(CE_XLMR_DST, "onnx", "model.onnx"))

    new_folder(ALBERT_DST)
    st = ["modules.json", "sentence_bert_config.json", "1_Pooling/config.json"]
    st += [os.path.join("2_Normalize", f) for f in sorted(os.listdir(os.path.join(ALBERT_SRC, "2_Normalize")))]
    copy_files(ALBERT_SRC, ALBERT_DST, ["config.json", "tokenizer.json", "tokenizer_config.json", *st])
    onnx.save(albert_proto, os.path.join(ALBERT_DST, "onnx", "model.onnx"))

    if os.path.isdir(VARIANTS):
        shutil.rmtree(VARIANTS)
    os.makedirs(VARIANTS)
    onnx.save(bert_unnamed, os.path.join(VARIANTS, "unnamed.onnx"))
    onnx.save(mpnet_fp16_unnamed, os.path.join(VARIANTS, "mpnet-fp16-unnamed.onnx"))
    save_external(bert_proto, os.path.join(VARIANTS, "external"))

    # Read back what was written.
    ext = onnx.load(os.path.join(VARIANTS, "external", "model.onnx"), load_external_data=False)
    assert all(t.data_location == TensorProto.EXTERNAL for t in ext.graph.initializer)
    locations = {e.value for t in ext.graph.initializer for e in t.external_data if e.key == "location"}
    assert locations == {"model.onnx_data"}, locations
    ext = onnx.load(os.path.join(VARIANTS, "external", "model.onnx"))
    check_weights("bert-tiny external", ext, bert_sd)
    d, _ = check_graph("bert external", ext, bert, BERT_SRC, bert_ids, 0)
    print(f"bert-tiny external/model.onnx read back (with its data): weights bit-equal, graph vs oracle {d:.2e}")
    for path, sd, dtype in ((os.path.join(BERT_DST, "onnx", "model.onnx"), bert_sd, np.float32),
                            (os.path.join(MPNET_DST, "onnx", "model.onnx"), mpnet_sd, np.float32),
                            (os.path.join(MPNET_DST, "onnx", "model_fp16.onnx"), mpnet_sd, np.float16),
                            (os.path.join(ALBERT_DST, "onnx", "model.onnx"), albert_sd, np.float32),
                            (os.path.join(VARIANTS, "unnamed.onnx"), bert_sd, np.float32)):
        check_weights(path, onnx.load(path), sd, dtype)

    describe("bert-tiny", bert_proto, bert_linear, os.path.join(BERT_DST, "onnx", "model.onnx"))
    describe("mpnet-tiny", mpnet_proto, mpnet_linear, os.path.join(MPNET_DST, "onnx", "model.onnx"))
    _, fp16_linear = weights_from_graph(mpnet_fp16)
    describe("mpnet-tiny fp16", mpnet_fp16, fp16_linear, os.path.join(MPNET_DST, "onnx", "model_fp16.onnx"))
    _, unnamed_linear = weights_from_graph(bert_unnamed)
    describe("bert-tiny unnamed", bert_unnamed, unnamed_linear, os.path.join(VARIANTS, "unnamed.onnx"))
    describe("albert-tiny", albert_proto, albert_linear, os.path.join(ALBERT_DST, "onnx", "model.onnx"))
    describe_shared("albert-tiny", albert_proto, albert_sd,
                    {"encoder.albert_layer_groups.0.": albert_cfg["num_hidden_layers"], "pooler.": 0})
    for folder in (BERT_DST, MPNET_DST, CE_DST, CE_XLMR_DST, VARIANTS, ALBERT_DST):
        for d, _, fs in sorted(os.walk(folder)):
            for f in sorted(fs):
                p = os.path.join(d, f)
                print(f"  {os.path.relpath(p, mf.REPO)}: {os.path.getsize(p):,} bytes, sha256 {sha(p)}")


if __name__ == "__main__":
    main()
