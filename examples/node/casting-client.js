#!/usr/bin/env node
// A Casting client in Node.js with no generated code: @grpc/proto-loader reads the contract
// (proto/casting/v1/casting.proto) at start-up and @grpc/grpc-js speaks gRPC.
//
// It runs the studio's flow: GenerateSheet -> SaveActor -> BranchVariant -> GetActor ->
// ReadImage, checks that the streamed bytes hash to the Image's sha256, prints a JSON summary
// on stdout and exits non-zero on any failure.
//
//   node examples/node/casting-client.js [host:port]     (or CASTING_ADDRESS; default localhost:50051)
"use strict";

const crypto = require("node:crypto");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const PROTO_ROOT = path.resolve(__dirname, "..", "..", "proto");
// The googleapis protos the contract imports (google/longrunning, google/api, google/rpc).
const GOOGLEAPIS_ROOT = path.resolve(__dirname, "..", "..", "third_party", "googleapis");
const ADDRESS = process.argv[2] || process.env.CASTING_ADDRESS || "localhost:50051";
const PROJECT = "projects/studio-1";
// Drawing a sheet is the slow call; the offline generator takes well under a second, a model more.
const DEADLINE_MS = 120_000;

function loadService() {
  const definition = protoLoader.loadSync("casting/v1/casting.proto", {
    includeDirs: [PROTO_ROOT, GOOGLEAPIS_ROOT],
    // JSON-like objects: camelCase fields, enums by name, 64-bit integers as strings.
    keepCase: false,
    enums: String,
    longs: String,
    defaults: true,
  });
  return grpc.loadPackageDefinition(definition).casting.v1.CastingService;
}

function deadline() {
  return new Date(Date.now() + DEADLINE_MS);
}

// One unary call as a promise.
function call(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: deadline() }, (error, response) => {
      if (error) {
        reject(new Error(`${method} failed: ${grpc.status[error.code]}: ${error.details}`));
      } else {
        resolve(response);
      }
    });
  });
}

// ReadImage streams chunks; the first one carries the image's sha256.
function readImage(client, name) {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash("sha256");
    let declared = "";
    let chunks = 0;
    let bytes = 0;
    const stream = client.ReadImage({ name }, { deadline: deadline() });
    stream.on("data", (chunk) => {
      if (chunks === 0) declared = chunk.sha256;
      chunks += 1;
      bytes += chunk.data.length;
      hash.update(chunk.data);
    });
    stream.on("error", (error) =>
      reject(new Error(`ReadImage failed: ${grpc.status[error.code]}: ${error.details}`)),
    );
    stream.on("end", () => resolve({ chunks, bytes, declared, computed: hash.digest("hex") }));
  });
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function main() {
  const CastingService = loadService();
  const client = new CastingService(ADDRESS, grpc.credentials.createInsecure());
  try {
    const sheet = await call(client, "GenerateSheet", {
      parent: PROJECT,
      storyStyle: "romance",
      imageStyle: "webtoon",
      traits: {
        gender: "GENDER_FEMALE",
        ageRange: "AGE_RANGE_TEEN",
        faceTraits: "round face, green eyes",
        hairTraits: "short black bob",
        outfit: "blue school uniform",
        mood: "cheerful",
      },
    });
    const saved = await call(client, "SaveActor", {
      parent: PROJECT,
      sheet: sheet.name,
      displayName: "Mina",
    });
    const look = await call(client, "BranchVariant", {
      baseVariant: saved.defaultVariant,
      displayName: "Winter",
      traitChanges: { outfit: "red winter coat", mood: "wistful" },
    });
    const actor = await call(client, "GetActor", { name: saved.name });
    const got = actor.variants.find((variant) => variant.name === look.name);
    check(got !== undefined, `GetActor did not list the new look ${look.name}`);
    const image = got.referenceImage;
    const read = await readImage(client, image.name);
    check(read.computed === image.sha256, `ReadImage bytes hash to ${read.computed}, not ${image.sha256}`);
    check(read.declared === image.sha256, `ReadImage declared ${read.declared}, not ${image.sha256}`);
    check(String(read.bytes) === image.sizeBytes, `ReadImage sent ${read.bytes} bytes, not ${image.sizeBytes}`);

    const summary = {
      address: ADDRESS,
      sheet: { name: sheet.name, generator: sheet.generation.generator },
      actor: {
        name: actor.name,
        displayName: actor.displayName,
        defaultVariant: actor.defaultVariant,
        variants: actor.variants.map((variant) => ({
          name: variant.name,
          kind: variant.kind,
          parentVariant: variant.parentVariant,
          isDefault: variant.isDefault,
        })),
      },
      look: { name: look.name, kind: look.kind, referenceImages: look.generation.referenceImages },
      image: {
        name: image.name,
        mimeType: image.mimeType,
        width: image.width,
        height: image.height,
        sha256: image.sha256,
        bytesRead: read.bytes,
        chunks: read.chunks,
        sha256Verified: true,
      },
    };
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } finally {
    client.close();
  }
}

main().catch((error) => {
  process.stderr.write(`casting-client: ${error.message}\n`);
  process.exitCode = 1;
});
