#!/usr/bin/env node
// Measures llama.cpp's prefill and decode speed on a GGUF through node-llama-cpp, like llama-bench:
// "pp N" = one batch of N prompt tokens, "tg N" = N tokens decoded one at a time (each step computes
// the logits and takes the greedy token). Prints a table, or one JSON object with --json.
import fs from "node:fs";
import path from "node:path";
import {parseArgs, positiveInt, loadLlama, loadModel, offloadLog, refuseContextShift, runMain, UsageError} from "./common.mjs";

const usage = `usage: bench.mjs --model PATH [--pp 512] [--tg 128] [--reps 3] [--gpu none|vulkan] [--threads N] [--json 0|1]
                [--ignore-memory-checks 0|1]
  --pp N       prompt tokens processed in one batch (0 skips the prefill test)
  --tg N       tokens decoded one by one after a 1-token prompt (0 skips the decode test)
  --reps N     measured repetitions of each test, after one unmeasured warm-up
  --gpu        llama.cpp backend: none = CPU (default), vulkan (GGML_VK_VISIBLE_DEVICES picks the device)
  --threads N  CPU threads (default: all)
  --json 1     print one JSON object instead of the table
  --ignore-memory-checks 1
               skip node-llama-cpp's estimate of whether model and context fit the device's memory
               (it refuses files that do fit lavapipe); llama.cpp still fails if the device runs out
`;

// Deterministic pseudo-random prompt ids, so every run feeds the same tokens.
function promptIds(count, nVocab) {
    let state = 12345;
    const ids = [];
    for (let i = 0; i < count; i++) {
        state = (Math.imul(state, 1103515245) + 12345) >>> 0;
        ids.push(1000 + (state % (nVocab - 1000)));
    }
    return ids;
}

function stats(values) {
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const variance = values.length > 1
        ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1)
        : 0;
    return {mean, sd: Math.sqrt(variance), samples: values};
}

await runMain(usage, async () => {
    const args = parseArgs(process.argv.slice(2),
        {model: "string", pp: "int", tg: "int", reps: "int", gpu: "string", threads: "int", json: "int",
            "ignore-memory-checks": "int"},
        {pp: 512, tg: 128, reps: 3, gpu: "none", threads: 0, json: 0, "ignore-memory-checks": 0});
    const ignoreMemoryChecks = args["ignore-memory-checks"] !== 0;
    if (args.pp < 0 || args.tg < 0 || (args.pp === 0 && args.tg === 0))
        throw new UsageError("--pp and --tg must be >= 0 and not both 0");
    positiveInt(args.reps, "reps");
    if (args.threads < 0)
        throw new UsageError("--threads must not be negative");

    const llama = await loadLlama(args.gpu, args.threads);
    const model = await loadModel(llama, args.model, args.gpu, {ignoreMemoryChecks});
    const totalLayers = model.fileInsights.totalLayers;
    if (args.gpu === "vulkan" && model.gpuLayers !== totalLayers)
        throw new Error(`llama.cpp put ${model.gpuLayers} of ${totalLayers} layers on the device, not all`);
    const embedding = model.fileInfo.fullTensorInfo?.find((t) => t.name === "token_embd.weight");
    if (embedding == null)
        throw new Error("the model has no token_embd.weight tensor");
    const nVocab = Number(embedding.dimensions[1]);
    const context = await model.createContext({
        contextSize: Math.max(args.pp, 1 + args.tg) + 1,
        batchSize: Math.max(args.pp, 1),
        sequences: 1,
        flashAttention: false,
        ...(args.threads ? {threads: args.threads} : {}),
        ...(ignoreMemoryChecks ? {ignoreMemorySafetyChecks: true} : {})
    });
    const sequence = context.getSequence({contextShift: refuseContextShift});

    async function prefill() {
        await sequence.clearHistory();
        const ids = promptIds(args.pp, nVocab);
        const start = performance.now();
        await sequence.evaluateWithoutGeneratingNewTokens(ids);
        return args.pp / ((performance.now() - start) / 1000);
    }
    async function decode() {
        await sequence.clearHistory();
        await sequence.evaluateWithoutGeneratingNewTokens(promptIds(1, nVocab));
        let token = promptIds(2, nVocab)[1];
        const start = performance.now();
        for (let i = 0; i < args.tg; i++) {
            const [result] = await sequence.controlledEvaluate([[token, {generateNext: {token: true}}]]);
            token = result?.next?.token;
            if (token == null)
                throw new Error(`decode step ${i} produced no token`);
        }
        return args.tg / ((performance.now() - start) / 1000);
    }

    const tests = [];
    for (const [name, count, run] of [["pp", args.pp, prefill], ["tg", args.tg, decode]]) {
        if (count === 0)
            continue;
        await run(); // warm-up: first-use allocations and, on Vulkan, pipeline creation
        const speeds = [];
        for (let r = 0; r < args.reps; r++)
            speeds.push(await run());
        tests.push({test: `${name}${count}`, tokens_per_second: stats(speeds)});
    }

    const result = {
        engine: "llama.cpp",
        llama_cpp: llama.llamaCppRelease.release,
        model: path.basename(args.model),
        model_bytes: fs.statSync(args.model).size,
        backend: args.gpu === "vulkan" ? "vulkan" : "cpu",
        devices: args.gpu === "vulkan" ? await llama.getGpuDeviceNames() : [],
        threads: context.currentThreads,
        gpu_layers: model.gpuLayers,
        total_layers: totalLayers,
        offload_log: offloadLog,
        memory_checks: ignoreMemoryChecks ? "ignored" : "on",
        tests
    };
    if (args.json) {
        process.stdout.write(JSON.stringify(result) + "\n");
    } else {
        const device = result.devices.length > 0 ? result.devices.join(", ") : "cpu";
        for (const line of offloadLog)
            process.stdout.write(`llama.cpp: ${line}\n`);
        const sizeMiB = (result.model_bytes / (1024 * 1024)).toFixed(1);
        process.stdout.write(`| model | size MiB | engine | backend | device | threads | test | t/s |\n`);
        process.stdout.write(`|---|---:|---|---|---|---:|---|---:|\n`);
        for (const t of tests) {
            const s = t.tokens_per_second;
            process.stdout.write(`| ${result.model} | ${sizeMiB} | llama.cpp ${result.llama_cpp} | ${result.backend} | ` +
                `${device} | ${result.threads} | ${t.test} | ${s.mean.toFixed(2)} ± ${s.sd.toFixed(2)} |\n`);
        }
    }
    await context.dispose();
    await model.dispose();
    await llama.dispose();
});
