// Compiled by MSBuild's RoslynCodeTaskFactory (see Tessera.targets) and, with TESSERA_NO_MSBUILD defined, by the tests.
// Kept to plain BCL APIs: the task factory compiles it against a minimal reference set.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Tessera.Build
{
    /// <summary>
    /// Marks a GLIBCXX version requirement of an ELF shared object as weak (VER_FLG_WEAK in .gnu.version_r),
    /// so that the dynamic loader accepts a system libstdc++ that lacks that version.
    /// </summary>
    public static class ElfVersionNeeds
    {
        const uint ShtGnuVerneed = 0x6ffffffe;
        const ushort VerFlgWeak = 0x2;

        /// <summary>Outcome of <see cref="Weaken"/>.</summary>
        public enum Result { Patched, AlreadyWeak, NotRequired }

        /// <summary>True when any libstdc++ on the loader's usual paths defines <paramref name="version"/>.</summary>
        public static bool SystemLibStdCxxHas(string version)
        {
            string[] candidates =
            {
                "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
                "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
            };
            byte[] needle = Encoding.ASCII.GetBytes(version + "\0");
            foreach (string path in candidates)
            {
                if (!File.Exists(path)) continue;
                if (IndexOf(File.ReadAllBytes(path), needle) >= 0) return true;
            }
            return false;
        }

        /// <summary>
        /// Sets the weak flag on every requirement named <paramref name="version"/> in <paramref name="elf"/>.
        /// The bytes are changed in place; nothing else in the file moves.
        /// </summary>
        /// <exception cref="InvalidDataException">The bytes are not a 64-bit little-endian ELF file.</exception>
        public static Result Weaken(byte[] elf, string version)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException("not an ELF file");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException("only 64-bit little-endian ELF files are supported");

            ulong shoff = U64(elf, 0x28);
            int shentsize = U16(elf, 0x3A), shnum = U16(elf, 0x3C);
            if (shentsize < 64 || shoff + (ulong)shentsize * (ulong)shnum > (ulong)elf.Length)
                throw new InvalidDataException("section header table lies outside the file");

            bool found = false, changed = false;
            for (int i = 0; i < shnum; i++)
            {
                int sh = checked((int)shoff + i * shentsize);
                if (U32(elf, sh + 4) != ShtGnuVerneed) continue;
                int offset = checked((int)U64(elf, sh + 0x18));
                int size = checked((int)U64(elf, sh + 0x20));
                int link = (int)U32(elf, sh + 0x28);
                int strtabSh = checked((int)shoff + link * shentsize);
                int strtab = checked((int)U64(elf, strtabSh + 0x18));
                int strtabSize = checked((int)U64(elf, strtabSh + 0x20));

                int need = offset;
                while (true)
                {
                    Check(elf, need, 16, offset, size);
                    int count = U16(elf, need + 2);
                    int aux = need + (int)U32(elf, need + 8);
                    for (int a = 0; a < count; a++)
                    {
                        Check(elf, aux, 16, offset, size);
                        string name = CString(elf, strtab + (int)U32(elf, aux + 8), strtab + strtabSize);
                        if (name == version)
                        {
                            found = true;
                            ushort flags = (ushort)U16(elf, aux + 4);
                            if ((flags & VerFlgWeak) == 0)
                            {
                                flags |= VerFlgWeak;
                                elf[aux + 4] = (byte)flags;
                                elf[aux + 5] = (byte)(flags >> 8);
                                changed = true;
                            }
                        }
                        uint nextAux = U32(elf, aux + 12);
                        if (nextAux == 0) break;
                        aux += (int)nextAux;
                    }
                    uint next = U32(elf, need + 12);
                    if (next == 0) break;
                    need += (int)next;
                }
            }
            return changed ? Result.Patched : found ? Result.AlreadyWeak : Result.NotRequired;
        }

        static void Check(byte[] elf, int at, int length, int sectionStart, int sectionSize)
        {
            if (at < sectionStart || at + length > sectionStart + sectionSize || at + length > elf.Length)
                throw new InvalidDataException(".gnu.version_r entry lies outside its section");
        }

        static string CString(byte[] b, int start, int limit)
        {
            if (start < 0 || start >= limit) throw new InvalidDataException("version name lies outside .dynstr");
            int end = start;
            while (end < limit && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, start, end - start);
        }

        static int IndexOf(byte[] hay, byte[] needle)
        {
            for (int i = 0; i <= hay.Length - needle.Length; i++)
            {
                if (hay[i] != needle[0]) continue;
                int j = 1;
                while (j < needle.Length && hay[i + j] == needle[j]) j++;
                if (j == needle.Length) return i;
            }
            return -1;
        }

        static int U16(byte[] b, int at) => b[at] | (b[at + 1] << 8);
        static uint U32(byte[] b, int at) => (uint)(b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24));
        static ulong U64(byte[] b, int at) => U32(b, at) | ((ulong)U32(b, at + 4) << 32);
    }

#if !TESSERA_NO_MSBUILD
    /// <summary>MSBuild task: weakens the GLIBCXX requirement of the given copies of libLibTorchSharp.so.</summary>
    public sealed class WeakenGlibcxxRequirement : Microsoft.Build.Utilities.Task
    {
        /// <summary>Files in the build output to patch (never the NuGet cache).</summary>
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        /// <summary>The version the system may lack, e.g. GLIBCXX_3.4.32.</summary>
        [Microsoft.Build.Framework.Required]
        public string Version { get; set; } = "";

        public override bool Execute()
        {
            if (Files.Length == 0 || ElfVersionNeeds.SystemLibStdCxxHas(Version)) return true;
            foreach (var item in Files)
            {
                string path = item.ItemSpec;
                if (!File.Exists(path)) continue;
                byte[] bytes = File.ReadAllBytes(path);
                ElfVersionNeeds.Result result;
                try { result = ElfVersionNeeds.Weaken(bytes, Version); }
                catch (InvalidDataException e) { Log.LogWarning($"{path}: {e.Message}; left unchanged"); continue; }
                if (result != ElfVersionNeeds.Result.Patched) continue;
                // Write beside and rename: the output copy may be a hard link into the NuGet cache, which must stay intact.
                string temp = path + ".tessera-tmp";
                File.WriteAllBytes(temp, bytes);
                File.Replace(temp, path, null);
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal, $"Tessera: marked {Version} weak in {path}");
            }
            return true;
        }
    }
#endif
}
