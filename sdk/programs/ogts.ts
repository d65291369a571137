// A user's program against the client openapi-generator's typescript-fetch makes (folder `ogts`).
import {
  Configuration,
  EvaluateApi,
  LossesApi,
  MulticlassApi,
  OperationsApi,
  RegressionApi,
  ResponseError,
} from "./ogts/index";

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`failed: ${what}`);
}

async function main(base: string): Promise<void> {
  const configuration = new Configuration({ basePath: base });
  const losses = new LossesApi(configuration);
  const regression = new RegressionApi(configuration);

  const predictions = [2.5, 0.0, 2.0, 8.0];
  const targets = [3.0, -0.5, 2.0, 7.0];
  const answer = await regression.huber({ huberRequest: { predictions, targets } });
  console.log("huber", (answer.value ?? 0) + 1, answer.gradient?.[0]);
  check(answer.value === 0.1875, "huber value");

  const wide = await regression.huber({
    huberRequest: { predictions: [1.0, 5.0], targets: [0.0, 0.0], delta: 2.0 },
  });
  check(wide.value === (0.5 + 2.0 * (5.0 - 1.0)) / 2, "huber delta");

  const labels = await new MulticlassApi(configuration).zeroOne({
    zeroOneRequest: { predictions: [0.9, 0.2, 0.6, 0.4], targets: [1.0, 0.0, 0.0, 0.0] },
  });
  check(labels.value === 0.25 && labels.gradient === null, "zero_one");

  const both = await new EvaluateApi(configuration).evaluate({
    evaluateRequest: {
      predictions: [0.2, 0.4],
      targets: [0.0, 1.0],
      losses: [{ name: "mse" }, { name: "mae", weight: 0.5 }],
    },
  });
  const total = both.total.value ?? NaN;
  check(Math.abs(total - ((0.04 + 0.36) / 2 + (0.5 * (0.2 + 0.6)) / 2)) < 1e-12, "evaluate");

  try {
    await losses.getLoss({ name: "hubber" });
    throw new Error("an unknown loss answered");
  } catch (error) {
    if (!(error instanceof ResponseError)) throw error;
    const problem = (await error.response.json()) as { detail: string };
    check(error.response.status === 404 && problem.detail.includes("huber"), "404");
  }

  const catalogue = await losses.listLosses();
  check(catalogue.losses.length >= 31, "catalogue");
  check((await losses.getLoss({ name: "mse" })).name === "mean_squared_error", "get_loss");
  check((await new OperationsApi(configuration).healthz()).status === "ok", "healthz");
  console.log("ogts: all good");
}

main(process.argv[2]).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
