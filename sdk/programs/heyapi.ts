// A user's program against the client @hey-api/openapi-ts generates (folder `heyapi`).
import { client } from "./heyapi/client.gen";
import { evaluate, getLoss, healthz, huber, listLosses, zeroOne } from "./heyapi/sdk.gen";

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`failed: ${what}`);
}

async function main(base: string): Promise<void> {
  client.setConfig({ baseUrl: base });

  const predictions = [2.5, 0.0, 2.0, 8.0];
  const targets = [3.0, -0.5, 2.0, 7.0];
  const { data: answer, error } = await huber({ body: { predictions, targets } });
  if (error) throw new Error(error.detail);
  console.log("huber", (answer.value ?? 0) + 1, answer.gradient?.[0]);
  check(answer.value === 0.1875, "huber value");

  const wide = await huber({ body: { predictions: [1.0, 5.0], targets: [0.0, 0.0], delta: 2.0 } });
  check(wide.data?.value === (0.5 + 2.0 * (5.0 - 1.0)) / 2, "huber delta");

  const labels = await zeroOne({
    body: { predictions: [0.9, 0.2, 0.6, 0.4], targets: [1.0, 0.0, 0.0, 0.0] },
  });
  check(labels.data?.value === 0.25 && labels.data.gradient === null, "zero_one");

  const both = await evaluate({
    body: {
      predictions: [0.2, 0.4],
      targets: [0.0, 1.0],
      losses: [{ name: "mse" }, { name: "mae", weight: 0.5 }],
    },
  });
  const total = both.data?.total.value ?? NaN;
  check(Math.abs(total - ((0.04 + 0.36) / 2 + (0.5 * (0.2 + 0.6)) / 2)) < 1e-12, "evaluate");

  const unknown = await getLoss({ path: { name: "hubber" } });
  check(unknown.response?.status === 404 && (unknown.error?.detail ?? "").includes("huber"), "404");

  const catalogue = await listLosses();
  check((catalogue.data?.losses.length ?? 0) >= 31, "catalogue");
  const entry = await getLoss({ path: { name: "mse" } });
  check(entry.data?.name === "mean_squared_error", "get_loss");
  check((await healthz()).data?.status === "ok", "healthz");
  console.log("heyapi: all good");
}

main(process.argv[2]).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
