import type { FileContent, FlagMigrationInput, UnitInfo } from '../ports.ts';

/** The flag planner's input, from files read through `read` (the node, or the run's backup). */
export async function migrationInput(
  fromVersion: string,
  toVersion: string,
  unit: Pick<UnitInfo, 'execStart' | 'environmentFiles' | 'fragmentPath' | 'dropInPaths'>,
  allowDroppedFlags: readonly string[],
  targetBinary: string,
  read: (nodePath: string) => Promise<string | undefined>,
): Promise<FlagMigrationInput> {
  const collect = async (paths: readonly string[]): Promise<FileContent[]> => {
    const out: FileContent[] = [];
    for (const p of paths) {
      const content = await read(p);
      if (content !== undefined) out.push({ path: p, content });
    }
    return out;
  };
  return {
    fromVersion,
    toVersion,
    execStart: unit.execStart,
    environmentFiles: await collect(unit.environmentFiles),
    unitFiles: await collect([unit.fragmentPath, ...unit.dropInPaths].filter((p) => p !== '')),
    allowDroppedFlags,
    targetBinary,
  };
}
