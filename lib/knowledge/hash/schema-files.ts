/**
 * The per-version v1.Container schemas as modules, so the engine does no file I/O and bundles
 * into one artifact. Add a line here when scripts/hash-schema/extract.ts writes a new minor; a unit test
 * checks that every schemas/*.json file is listed here.
 */
import s1_10 from './schemas/1.10.json' with { type: 'json' };
import s1_11 from './schemas/1.11.json' with { type: 'json' };
import s1_12 from './schemas/1.12.json' with { type: 'json' };
import s1_13 from './schemas/1.13.json' with { type: 'json' };
import s1_14 from './schemas/1.14.json' with { type: 'json' };
import s1_15 from './schemas/1.15.json' with { type: 'json' };
import s1_16 from './schemas/1.16.json' with { type: 'json' };
import s1_17 from './schemas/1.17.json' with { type: 'json' };
import s1_18 from './schemas/1.18.json' with { type: 'json' };
import s1_19 from './schemas/1.19.json' with { type: 'json' };
import s1_20 from './schemas/1.20.json' with { type: 'json' };
import s1_21 from './schemas/1.21.json' with { type: 'json' };
import s1_22 from './schemas/1.22.json' with { type: 'json' };
import s1_23 from './schemas/1.23.json' with { type: 'json' };
import s1_24 from './schemas/1.24.json' with { type: 'json' };
import s1_25 from './schemas/1.25.json' with { type: 'json' };
import s1_26 from './schemas/1.26.json' with { type: 'json' };
import s1_27 from './schemas/1.27.json' with { type: 'json' };
import s1_28 from './schemas/1.28.json' with { type: 'json' };
import s1_29 from './schemas/1.29.json' with { type: 'json' };
import s1_30 from './schemas/1.30.json' with { type: 'json' };
import s1_31 from './schemas/1.31.json' with { type: 'json' };
import s1_32 from './schemas/1.32.json' with { type: 'json' };
import s1_33 from './schemas/1.33.json' with { type: 'json' };
import s1_34 from './schemas/1.34.json' with { type: 'json' };
import s1_35 from './schemas/1.35.json' with { type: 'json' };
import s1_36 from './schemas/1.36.json' with { type: 'json' };

/** Raw JSON per minor; schema.ts gives it its type (SchemaFile) so the two modules do not import each other. */
export const SCHEMAS: Readonly<Record<string, unknown>> = {
  '1.10': s1_10,
  '1.11': s1_11,
  '1.12': s1_12,
  '1.13': s1_13,
  '1.14': s1_14,
  '1.15': s1_15,
  '1.16': s1_16,
  '1.17': s1_17,
  '1.18': s1_18,
  '1.19': s1_19,
  '1.20': s1_20,
  '1.21': s1_21,
  '1.22': s1_22,
  '1.23': s1_23,
  '1.24': s1_24,
  '1.25': s1_25,
  '1.26': s1_26,
  '1.27': s1_27,
  '1.28': s1_28,
  '1.29': s1_29,
  '1.30': s1_30,
  '1.31': s1_31,
  '1.32': s1_32,
  '1.33': s1_33,
  '1.34': s1_34,
  '1.35': s1_35,
  '1.36': s1_36,
};
