import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';

/**
 * Checks CloudFormation resource properties against the AWS service specification that the AWS
 * CDK generates its L1 constructs from (@aws-cdk/aws-service-spec, itself built from the
 * CloudFormation registry schemas): unknown and missing required properties, value types and
 * enumerated values. Intrinsic functions ({"Ref": ...}, {"Fn::...": ...}) stand for any value.
 */
type SpecType =
  | { type: 'string' | 'integer' | 'number' | 'boolean' | 'json' | 'date-time' | 'tag'; allowedValues?: string[] }
  | { type: 'ref'; reference: { $ref: string } }
  | { type: 'array' | 'map'; element: SpecType }
  | { type: 'union'; types: SpecType[] };
interface SpecProperty {
  type: SpecType;
  required?: boolean;
}
interface SpecEntity {
  $id: string;
  name: string;
  cloudFormationType?: string;
  properties: Record<string, SpecProperty>;
}

const require = createRequire(import.meta.url);
const db = JSON.parse(gunzipSync(readFileSync(require.resolve('@aws-cdk/aws-service-spec/db.json.gz'))).toString()) as {
  schema: { resource: { entities: SpecEntity[] }; typeDefinition: { entities: SpecEntity[] } };
};
const types = new Map(db.schema.typeDefinition.entities.map((t) => [t.$id, t]));

const isIntrinsic = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && /^(Ref|Fn::\w+)$/.test(Object.keys(v)[0]!);

function checkValue(t: SpecType, v: unknown, at: string, errors: string[]): void {
  if (isIntrinsic(v)) return;
  switch (t.type) {
    case 'string':
    case 'date-time':
      if (typeof v !== 'string') errors.push(`${at}: expected a string, found ${JSON.stringify(v)}`);
      else if (t.allowedValues && !t.allowedValues.includes(v)) errors.push(`${at}: ${JSON.stringify(v)} is not one of ${t.allowedValues.join(', ')}`);
      return;
    case 'integer':
      if (!Number.isInteger(v)) errors.push(`${at}: expected an integer, found ${JSON.stringify(v)}`);
      return;
    case 'number':
      if (typeof v !== 'number') errors.push(`${at}: expected a number, found ${JSON.stringify(v)}`);
      return;
    case 'boolean':
      if (typeof v !== 'boolean') errors.push(`${at}: expected a boolean, found ${JSON.stringify(v)}`);
      return;
    case 'json':
    case 'tag':
      return;
    case 'array':
      if (!Array.isArray(v)) errors.push(`${at}: expected a list, found ${JSON.stringify(v)}`);
      else v.forEach((x, i) => checkValue(t.element, x, `${at}[${i}]`, errors));
      return;
    case 'map':
      if (typeof v !== 'object' || v === null || Array.isArray(v)) errors.push(`${at}: expected a map`);
      else for (const [k, x] of Object.entries(v)) checkValue(t.element, x, `${at}.${k}`, errors);
      return;
    case 'union': {
      const fits = t.types.some((u) => {
        const e: string[] = [];
        checkValue(u, v, at, e);
        return e.length === 0;
      });
      if (!fits) errors.push(`${at}: matches none of the allowed shapes`);
      return;
    }
    case 'ref':
      checkObject(types.get(t.reference.$ref)!, v, at, errors);
  }
}

function checkObject(entity: SpecEntity, v: unknown, at: string, errors: string[]): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return void errors.push(`${at}: expected an object (${entity.name})`);
  const given = v as Record<string, unknown>;
  for (const [name, p] of Object.entries(entity.properties)) if (p.required && !(name in given)) errors.push(`${at}.${name}: required by ${entity.name}`);
  for (const [name, x] of Object.entries(given)) {
    const p = entity.properties[name];
    if (!p) errors.push(`${at}.${name}: not a property of ${entity.name}`);
    else checkValue(p.type, x, `${at}.${name}`, errors);
  }
}

/** Every problem with a template's resources, as "Resources.X.Properties.Y: why"; empty when valid. */
export function cloudFormationErrors(template: { Resources: Record<string, { Type: string; Properties: unknown }> }): string[] {
  const errors: string[] = [];
  for (const [name, resource] of Object.entries(template.Resources)) {
    const spec = db.schema.resource.entities.find((r) => r.cloudFormationType === resource.Type);
    if (!spec) errors.push(`Resources.${name}.Type: ${resource.Type} is not a CloudFormation resource type`);
    else checkObject(spec, resource.Properties, `Resources.${name}.Properties`, errors);
  }
  return errors;
}
