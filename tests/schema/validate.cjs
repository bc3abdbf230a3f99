// Validates Kubernetes objects against the API's OpenAPI schemas with kubernetes-models
// (node_modules, pinned by package-lock.json). Input on stdin: a JSON array of objects. Output on
// stdout: a JSON array with one entry per object, null when valid, else
// {"object": "Kind/name", "errors": [{"path": "/spec/...", "reason": "..."}]}. Exit 0 when
// every object is valid, 1 when any is not, 2 on unusable input.
"use strict";

// The model package for each API group: Kubernetes' own, and the Prometheus operator's for the
// chart's ServiceMonitor.
const PACKAGES = { "monitoring.coreos.com": "@kubernetes-models/prometheus-operator" };

function modelFor(apiVersion, kind) {
  // Core objects ("v1") live in kubernetes-models/v1, the rest under their group and version.
  const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
  const module = `${PACKAGES[group] || "kubernetes-models"}/${apiVersion}`;
  try {
    return require(module)[kind] || null;
  } catch (e) {
    return null;
  }
}

function check(object) {
  const name = `${object && object.kind}/${object && object.metadata && (object.metadata.name || object.metadata.generateName)}`;
  if (!object || typeof object !== "object" || !object.apiVersion || !object.kind) {
    return { object: name, errors: [{ path: "", reason: "not a Kubernetes object (apiVersion and kind)" }] };
  }
  const Model = modelFor(object.apiVersion, object.kind);
  if (!Model) {
    return { object: name, errors: [{ path: "", reason: `no schema for ${object.apiVersion} ${object.kind}` }] };
  }
  try {
    new Model(object).validate();
    return null;
  } catch (e) {
    const errors = (e.errors || [{ instancePath: "", message: e.message }]).map((x) => ({
      path: x.instancePath || "",
      reason: x.message + (x.params && x.params.allowedValues ? ` (${x.params.allowedValues.join(", ")})` : ""),
    }));
    return { object: name, errors };
  }
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  let objects;
  try {
    objects = JSON.parse(input);
  } catch (e) {
    process.stderr.write(`validate.cjs: stdin is not JSON: ${e.message}\n`);
    process.exit(2);
  }
  if (!Array.isArray(objects)) {
    process.stderr.write("validate.cjs: stdin must be a JSON array of objects\n");
    process.exit(2);
  }
  const results = objects.map(check);
  process.stdout.write(JSON.stringify(results) + "\n");
  process.exit(results.every((r) => r === null) ? 0 : 1);
});
