#!/usr/bin/env node
// Prints llama.cpp's next-token logits for every position of a token sequence, in the same JSON
// format as `ocelle-cli logits`, so the two can be compared:
//   {"n_vocab": V, "kind": "logit", "positions": [{"pos": 0, "top": [[id, logit], ...], "lse": x}, ...]}
// "top" holds the K largest raw logits (after the model's final softcap; node-llama-cpp's greedy
// sampler chain leaves them untouched), largest first. "lse" is log(sum(exp(logit))) over the whole
// vocabulary, so log-probabilities are logit - lse.
// With --generate N, N greedy tokens follow the prompt, each decoded on its own (llama.cpp's
// single-token path): the first N - 1 are fed back, so "positions" covers the prompt plus those
// N - 1 tokens, and "generated" lists all N (like a generation that stops when its context is full).
import {parseArgs, positiveInt, loadLlama, loadModel, refuseContextShift, runMain, UsageError} from "./common.mjs";

const usage = `usage: logits.mjs --model PATH --ids "ID ID ..." [--top K] [--gpu none|vulkan] [--threads N] [--ctx N] [--generate N]
  --top K      number of largest logits printed per position (default 10)
  --gpu        llama.cpp backend: none = CPU (default), vulkan
  --threads N  CPU threads (default: all)
  --ctx N      context size (default: the number of ids); fewer slots than ids is an error
  --generate N greedy tokens to generate after the ids (default 0)
`;

function parseIds(text) {
    const parts = text.trim().split(/[\s,]+/).filter((p) => p !== "");
    if (parts.length === 0)
        throw new UsageError("--ids is empty");
    return parts.map((p) => {
        if (!/^\d+$/.test(p))
            throw new UsageError(`--ids: '${p}' is not a token id`);
        return Number.parseInt(p, 10);
    });
}

function vocabularySize(model) {
    const embedding = model.fileInfo.fullTensorInfo?.find((t) => t.name === "token_embd.weight");
    if (embedding == null || embedding.dimensions.length < 2)
        throw new Error("the model has no 2-D token_embd.weight tensor to read the vocabulary size from");
    return Number(embedding.dimensions[1]);
}

await runMain(usage, async () => {
    const args = parseArgs(process.argv.slice(2),
        {model: "string", ids: "string", top: "int", gpu: "string", threads: "int", ctx: "int", generate: "int"},
        {top: 10, gpu: "none", threads: 0, ctx: 0, generate: 0});
    const ids = parseIds(args.ids);
    const top = positiveInt(args.top, "top");
    if (args.threads < 0)
        throw new UsageError("--threads must not be negative");
    if (args.generate < 0)
        throw new UsageError("--generate must not be negative");
    const fedTokens = ids.length + Math.max(0, args.generate - 1);
    const contextSize = args.ctx === 0 ? fedTokens : positiveInt(args.ctx, "ctx");
    if (contextSize < fedTokens)
        throw new UsageError(`--ctx ${contextSize} is smaller than the ${fedTokens} tokens to evaluate`);

    const llama = await loadLlama(args.gpu, args.threads);
    const model = await loadModel(llama, args.model, args.gpu);
    const nVocab = vocabularySize(model);
    for (const id of ids)
        if (id >= nVocab)
            throw new UsageError(`token id ${id} is outside the vocabulary (${nVocab} tokens)`);

    const context = await model.createContext({
        contextSize,
        batchSize: Math.min(contextSize, 512),
        sequences: 1,
        flashAttention: false,
        // F32 cache as in the fixtures: an F16 cache would add its own rounding to the reference.
        experimentalKvCacheKeyType: "F32",
        experimentalKvCacheValueType: "F32",
        ...(args.threads ? {threads: args.threads} : {})
    });
    const sequence = context.getSequence({contextShift: refuseContextShift});
    const request = {generateNext: {logits: {filter: {includeTop: top}}, totalLogitWeight: true}};
    const results = await sequence.controlledEvaluate(ids.map((id) => [id, request]),
        {contextShift: refuseContextShift});

    const positions = [];
    const record = (result, pos) => {
        const next = result?.next;
        if (next?.logits == null || next.totalLogitWeight == null)
            throw new Error(`llama.cpp returned no logits for position ${pos}`);
        const pairs = [...next.logits.entries()].slice(0, top);
        // totalLogitWeight = sum(exp(logit - max logit)).
        const lse = pairs[0][1] + Math.log(next.totalLogitWeight);
        positions.push({pos, top: pairs, lse});
    };
    for (let pos = 0; pos < ids.length; pos++)
        record(results[pos], pos);
    const generated = [];
    for (let step = 0; step < args.generate; step++) {
        const token = positions[positions.length - 1].top[0][0]; // greedy
        generated.push(token);
        if (step === args.generate - 1)
            break;
        const [result] = await sequence.controlledEvaluate([[token, request]], {contextShift: refuseContextShift});
        record(result, positions.length);
    }
    const output = {
        n_vocab: nVocab,
        kind: "logit",
        llama_cpp: llama.llamaCppRelease.release,
        backend: args.gpu === "vulkan" ? "vulkan" : "cpu",
        context_size: context.contextSize,
        positions,
        ...(args.generate > 0 ? {generated} : {})
    };
    process.stdout.write(JSON.stringify(output) + "\n");
    await context.dispose();
    await model.dispose();
    await llama.dispose();
});
