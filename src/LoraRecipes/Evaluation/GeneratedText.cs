using System.Text;

namespace LoraRecipes.Evaluation;

/// <summary>
/// The text of one generation as it grows: finds the first stop string (cut there, not included) and streams to a
/// listener every piece that can no longer turn out to be part of a stop string. Text that could still be the start
/// of one ("&lt;|im" while "&lt;|im_end|&gt;" is a stop) is held back until the next piece decides it.
/// </summary>
internal sealed class GeneratedText(IReadOnlyList<string> stopStrings, Action<string>? onText)
{
    private readonly StringBuilder _text = new();
    private readonly string[] _stops = stopStrings.Where(s => s.Length > 0).ToArray();
    private int _sent;        // chars already handed to onText
    private bool _stopped;

    /// <summary>Adds a decoded piece; true when a stop string now appears (generation should end).</summary>
    public bool Append(string piece)
    {
        if (_stopped || piece.Length == 0) return _stopped;
        int before = _text.Length;
        _text.Append(piece);
        int cut = FirstStop(before);
        if (cut >= 0)
        {
            _text.Length = cut;
            _stopped = true;
        }
        Send(_stopped ? _text.Length : _text.Length - HeldBack());
        return _stopped;
    }

    /// <summary>The whole text (up to the first stop string); whatever was held back is sent now.</summary>
    public string Complete()
    {
        Send(_text.Length);
        return _text.ToString();
    }

    /// <summary>The earliest start of a stop string that ends in the new text (starting at or after <paramref name="before"/>).</summary>
    private int FirstStop(int before)
    {
        if (_stops.Length == 0) return -1;
        int offset = Math.Max(0, before - _stops.Max(s => s.Length) + 1);
        string tail = _text.ToString(offset, _text.Length - offset);
        int first = -1;
        foreach (string stop in _stops)
        {
            int from = Math.Max(0, before - stop.Length + 1) - offset;
            int at = tail.IndexOf(stop, from, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first)) first = at;
        }
        return first < 0 ? -1 : first + offset;
    }

    /// <summary>The longest end of the text that is a proper prefix of some stop string.</summary>
    private int HeldBack()
    {
        int held = 0;
        foreach (string stop in _stops)
        {
            for (int n = Math.Min(stop.Length - 1, _text.Length - _sent); n > held; n--)
            {
                if (EndsWith(stop.AsSpan(0, n))) { held = n; break; }
            }
        }
        return held;
    }

    private bool EndsWith(ReadOnlySpan<char> prefix)
    {
        int start = _text.Length - prefix.Length;
        for (int i = 0; i < prefix.Length; i++)
        {
            if (_text[start + i] != prefix[i]) return false;
        }
        return true;
    }

    private void Send(int upTo)
    {
        if (onText is null || upTo <= _sent) return;
        onText(_text.ToString(_sent, upTo - _sent));
        _sent = upTo;
    }
}
