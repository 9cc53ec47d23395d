import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderEnvExample, renderEnvTable, renderErrorTable, replaceBlock } from '../../tools/docs/render-docs';

const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');

describe('README tables match the code (run `npm run docs` after changing config or error codes)', () => {
  it('configuration table', () => {
    expect(replaceBlock(readme, 'config-table', renderEnvTable())).toBe(readme);
  });
  it('error-code table', () => {
    expect(replaceBlock(readme, 'error-table', renderErrorTable())).toBe(readme);
  });
  it('.env.example', () => {
    expect(readFileSync(join(__dirname, '../../.env.example'), 'utf8')).toBe(renderEnvExample());
  });
  it('replaceBlock refuses a document without markers', () => {
    expect(() => replaceBlock('no markers', 'x', 'y')).toThrow('markers <!-- x:start --> … <!-- x:end --> not found');
  });
});
