// Shared helpers of the llama.cpp reference scripts: argument parsing and loading llama.cpp through
// node-llama-cpp strictly from the prebuilt binaries installed by package.json (never a download or a
// source build, which would make the reference depend on whatever compiler and network CI has).
import fs from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

export class UsageError extends Error {}

// Parses `--name value` pairs. `spec` maps option names to "string" | "int" | "float"; required
// options have no default in `defaults`.
export function parseArgs(argv, spec, defaults) {
    const values = {...defaults};
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--help" || arg === "-h")
            throw new UsageError("");
        if (!arg.startsWith("--") || !(arg.slice(2) in spec))
            throw new UsageError(`unknown argument '${arg}'`);
        const name = arg.slice(2);
        if (i + 1 >= argv.length)
            throw new UsageError(`option --${name} needs a value`);
        const raw = argv[++i];
        if (spec[name] === "int") {
            if (!/^-?\d+$/.test(raw))
                throw new UsageError(`option --${name} expects an integer, got '${raw}'`);
            values[name] = Number.parseInt(raw, 10);
        } else if (spec[name] === "float") {
            const v = Number(raw);
            if (raw.trim() === "" || !Number.isFinite(v))
                throw new UsageError(`option --${name} expects a number, got '${raw}'`);
            values[name] = v;
        } else {
            values[name] = raw;
        }
    }
    for (const name of Object.keys(spec))
        if (values[name] === undefined)
            throw new UsageError(`missing required option --${name}`);
    return values;
}

export function positiveInt(value, name) {
    if (!Number.isInteger(value) || value <= 0)
        throw new UsageError(`--${name} must be a positive integer, got ${value}`);
    return value;
}

// llama.cpp's log lines that say how many layers went to the device ("offloaded 36/36 layers to GPU"),
// kept so a benchmark can show that a Vulkan run really ran every layer there.
export const offloadLog = [];

// Loads llama.cpp with the requested backend. `gpu` is "none" (CPU backend) or "vulkan".
// Throws when the prebuilt binary for that backend is missing or does not load.
export async function loadLlama(gpu, threads) {
    if (gpu !== "none" && gpu !== "vulkan")
        throw new UsageError(`--gpu must be 'none' or 'vulkan', got '${gpu}'`);
    const llama = await getLlama({
        gpu: gpu === "vulkan" ? "vulkan" : false,
        build: "never",
        usePrebuiltBinaries: true,
        skipDownload: true,
        progressLogs: false,
        // Info level reaches the logger so the offload lines can be kept; only errors are printed.
        logLevel: LlamaLogLevel.info,
        logger: (level, message) => {
            if (/offload/i.test(message))
                offloadLog.push(message.trim());
            if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal)
                process.stderr.write(message.endsWith("\n") ? message : message + "\n");
        },
        ...(threads ? {maxThreads: threads} : {})
    });
    const wanted = gpu === "vulkan" ? "vulkan" : false;
    if (llama.gpu !== wanted)
        throw new Error(`node-llama-cpp loaded backend '${llama.gpu}' instead of '${gpu}'`);
    if (llama.buildType !== "prebuilt")
        throw new Error(`node-llama-cpp used a '${llama.buildType}' llama.cpp instead of the prebuilt one`);
    return llama;
}

// Vulkan puts every layer on the device ("max"). ignoreMemoryChecks skips node-llama-cpp's estimate of
// whether weights and context fit the device (which refuses files that do fit lavapipe's reported
// heap only on paper); llama.cpp then fails by itself if the device really runs out.
export async function loadModel(llama, modelPath, gpu, {ignoreMemoryChecks = false} = {}) {
    if (!fs.existsSync(modelPath))
        throw new UsageError(`model file '${modelPath}' does not exist`);
    return llama.loadModel({
        modelPath,
        gpuLayers: gpu === "vulkan" ? "max" : 0,
        useMmap: true,
        ...(ignoreMemoryChecks ? {ignoreMemorySafetyChecks: true} : {})
    });
}

// Context shifting would silently drop the beginning of the sequence; a reference must fail instead.
export const refuseContextShift = {
    strategy: () => {
        throw new Error("the context is full (node-llama-cpp wanted to shift it)");
    }
};

export async function runMain(usage, main) {
    try {
        await main();
    } catch (error) {
        if (error instanceof UsageError) {
            if (error.message !== "")
                process.stderr.write(`error: ${error.message}\n`);
            process.stderr.write(usage);
            process.exit(error.message === "" ? 0 : 2);
        }
        process.stderr.write(`error: ${error?.stack ?? error}\n`);
        process.exit(1);
    }
}
