import { readScenario, type Scenario } from '@hvsim/scenario';

// The bundled scenarios, built into the page: the same JSON files @hvsim/scenario ships.
const files = import.meta.glob<{ default: unknown }>(
  ['../../../packages/scenario/scenarios/*.json', '!../../../packages/scenario/scenarios/*.expected.json'],
  { eager: true },
);

/** A bundled scenario: its name (the file name without `.json`) and the parsed scenario. */
export interface Bundled {
  readonly name: string;
  readonly scenario: Scenario;
}

/** The bundled scenarios, sorted by name (sequences with `steps` among them). */
export const bundledScenarios: readonly Bundled[] = Object.entries(files)
  .map(([path, module]) => {
    const name = path.slice(path.lastIndexOf('/') + 1, -'.json'.length);
    return { name, scenario: readScenario(module.default, `${name}.json`) };
  })
  .sort((a, b) => a.name.localeCompare(b.name));
