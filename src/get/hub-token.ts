import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'

/**
 * The Hub token as huggingface_hub finds it: HF_TOKEN (or the older HUGGING_FACE_HUB_TOKEN),
 * else the file `hf auth login` writes (HF_TOKEN_PATH, else $HF_HOME/token).
 */
export async function findHubToken (env: Record<string, string | undefined>): Promise<string | undefined> {
  const fromEnv = (env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN)?.trim()
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  const hfHome = env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface')
  const path = env.HF_TOKEN_PATH ?? join(hfHome, 'token')
  const fromFile = (await readFile(path, 'utf8').catch(() => ''))?.trim()
  return fromFile === '' ? undefined : fromFile
}
